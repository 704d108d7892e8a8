"""How long the 五治 indicators take on the demo street with a month of load.

    python bench/governance_indicators.py [--positions 200000] [--cases 12000] [--db sqlite|postgresql]

Loads the demo street into a fresh database, adds a month of cases (a fifth of them closed
disputes settled by a council/mediation activity) and one hour of GPS fixes, then times
``compute_indicators`` per level and each indicator's bulk query on its own.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

from dashboard.config import Settings  # noqa: E402
from dashboard.app import create_app  # noqa: E402
from dashboard.db import migrate  # noqa: E402
from dashboard.models import Case, Grid, Position, Worker  # noqa: E402
from dashboard.models.governance import GovernanceActivity  # noqa: E402
from dashboard.services.governance_indicators import INDICATORS, Period, compute_indicators  # noqa: E402
from dashboard.services.importers import load_demo  # noqa: E402
from dashboard.timeutil import utcnow  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load(services, n_cases: int, n_positions: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    now = utcnow()
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    with services.db.write() as s:
        grids = s.execute(select(Grid.id, Grid.community_id)).all()
        workers = s.scalars(select(Worker.id)).all()
        cases = []
        for i in range(n_cases):
            gid, cid = rng.choice(grids)
            created = now - timedelta(minutes=rng.randint(0, 28 * 24 * 60))
            closed = rng.random() < 0.8
            cases.append(dict(code=f"B{i:07d}", category_code=rng.choice(["0101", "0201", "0601"]), grid_id=gid,
                              community_id=cid, state="closed" if closed else "dispatched", created_at=created,
                              updated_at=created, closed_at=created + timedelta(hours=3) if closed else None,
                              source="app", reporter_worker_id=rng.choice(workers), priority=3, description="",
                              address="", outside=False, level="grid", handled_onsite=False, rework_count=0))
        s.execute(insert(Case), cases)
        ids = s.execute(select(Case.id, Case.grid_id, Case.community_id).where(Case.state == "closed")).all()
        s.execute(insert(GovernanceActivity), [dict(
            code=f"BA{k:07d}", kind="mediation", dimension="self", title="调解", grid_id=g, community_id=c,
            started_at=now - timedelta(days=1), case_id=cid, participants=3, volunteers=0, volunteer_hours=0.0,
            organiser="", place_name="", source="demo", created_by="", created_at=now, note="")
            for k, (cid, g, c) in enumerate(ids[: len(ids) // 5])])
        s.execute(insert(Position), [dict(
            worker_id=rng.choice(workers), fix_time=now - timedelta(seconds=i * 3600 / n_positions),
            received_at=now - timedelta(seconds=i * 3600 / n_positions), lat=34.27, lon=108.95,
            grid_id=rng.choice(grids)[0], outside=False, source="sim") for i in range(n_positions)])


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1000, max(runs) * 1000


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--positions", type=int, default=200_000)
    p.add_argument("--cases", type=int, default=12_000)
    p.add_argument("--db", default="sqlite")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gc-bench-gov-"))
    url = f"sqlite:///{tmp / 'bench.db'}" if args.db == "sqlite" else args.db
    app, services = create_app(Settings.from_env({}, db_url=url, data_dir=tmp, simulate=False))
    migrate(services.db.engine)
    t = time.perf_counter()
    load(services, args.cases, args.positions)
    print(f"loaded demo + {args.cases:,} cases + {args.positions:,} fixes in {time.perf_counter() - t:.1f} s ({url})")
    print(f"{'level':<12}{'median ms':>10}{'max ms':>10}")
    for level in ("grid", "community", "street"):
        def run(level=level):
            with services.db.read() as s:
                compute_indicators(s, level=level)
        med, mx = timed(run)
        print(f"{level:<12}{med:>10.1f}{mx:>10.1f}")
    print(f"\n{'indicator (all 301 grids, one bulk query each)':<48}{'median ms':>10}")
    import pandas as pd

    with services.db.read() as s:
        grids = pd.Index(s.scalars(select(Grid.id)).all())
        period = Period.for_day()
        for ind in INDICATORS:
            med, _ = timed(lambda: ind.compute(s, grids, period))
            print(f"{ind.key:<48}{med:>10.1f}")
    services.shutdown()


if __name__ == "__main__":
    main()
