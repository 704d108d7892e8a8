"""Who holds SQLite's write turn, and for how long: the server in-process (gevent-patched, as ``python run.py``) on a
copy of a database with the simulator on; every ``FairLock`` hold is timed with the call site that took it.

    python bench/write_turns.py --db /tmp/citywall/city.db --settle 150 --measure 90

Prints, per call site, the holds, their p95 and max and the total held (ms), longest total first. A person's write
waits for the current holder only, so a long hold here is a report's wait (its ``Server-Timing: write-turn``).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import collections  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

from city_report_profile import copy_sqlite  # noqa: E402  (bench/ is this script's folder)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="an SQLite file (gen-city), copied first")
    ap.add_argument("--settle", type=float, default=150, help="seconds before measuring (shifts start)")
    ap.add_argument("--measure", type=float, default=90)
    ap.add_argument("--sim-hour", type=float, default=10)
    ap.add_argument("--out", type=Path, default=Path("/tmp/write-turns"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "turns.db"
    copy_sqlite(args.db, db)
    os.environ["GC_DEMO_HISTORY_DAYS"] = "0"
    os.chdir(ROOT)
    import gevent

    from dashboard import db as dbmod
    from dashboard.config import Settings
    from server import build_server

    holds: dict[tuple[bool, str], list[float]] = collections.defaultdict(list)
    taken: dict[int, tuple[float, str, bool]] = {}
    acquire, release = dbmod.FairLock.acquire, dbmod.FairLock.release

    def timed_acquire(self, bulk: bool = False) -> None:
        acquire(self, bulk)
        if self._depth == 1:
            site = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                              for f in reversed(traceback.extract_stack(limit=8)[:-2]) if str(ROOT) in f.filename)
            taken[threading.get_ident()] = (time.perf_counter(), site[:200], bulk)

    def timed_release(self) -> None:
        got = taken.pop(threading.get_ident(), None) if self._depth == 1 else None
        if got is not None:
            holds[(got[2], got[1])].append((time.perf_counter() - got[0]) * 1000)
        release(self)

    dbmod.FairLock.acquire, dbmod.FairLock.release = timed_acquire, timed_release  # type: ignore[method-assign]
    settings = Settings.from_env({"GC_ALLOWED_HOSTS": "*"}, db_url=f"sqlite:///{db}", data_dir=args.out / "var",
                                 simulate=True, sim_hour=args.sim_hour)
    _, services = build_server(settings)
    services.start_background()
    gevent.sleep(args.settle)
    holds.clear()
    gevent.sleep(args.measure)
    rows = []
    for (bulk, site), xs in list(holds.items()):
        xs.sort()
        rows.append((sum(xs), len(xs), xs[int(len(xs) * 0.95)], xs[-1], bulk, site))
    print(f"write-turn holds over {args.measure:.0f} s")
    for total, n, p95, most, bulk, site in sorted(rows, reverse=True)[:15]:
        print(f"{n:6d} holds  p95 {p95:7.1f}  max {most:7.1f}  total {total:8.0f} ms  "
              f"{'background' if bulk else 'person'}  {site}")
    os._exit(0)  # background loops


if __name__ == "__main__":
    main()
