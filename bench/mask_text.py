"""What masking known names in free text costs per text (issue #8), on the 西一路 demo street.

    python bench/mask_text.py [--texts 2000] [--rounds 5]

Loads the demo street into a fresh SQLite database (490 workers, 1,838 五级联动 contacts), takes the
name index the app attaches to its sessions, and times over ``--texts`` synthetic free texts (case
descriptions, timeline notes, alert titles: 40 % name a known person, 20 % quote a phone number):

- ``mask_text`` as before issue #8: phone/ID patterns and the record's own people only;
- ``mask_text`` with the known-names matcher (what screens get now), the matcher fetched per text
  through ``known_names(session)`` as ``case_public`` does;
- the matcher's single pass alone, and a build of the index from the database (first use / a change).

Prints µs per text (median of ``--rounds``); one process, one thread.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.config import Settings  # noqa: E402
from dashboard.db import migrate  # noqa: E402
from dashboard.masking import mask_text  # noqa: E402
from dashboard.models import Contact, Place, Worker  # noqa: E402
from dashboard.services.importers import load_demo  # noqa: E402
from dashboard.services.name_index import NameIndex, known_names  # noqa: E402

TEMPLATES = [
    "{place}发现暴露垃圾，需协调处置",
    "{place}门口消防通道被电动车堵住，已现场处置",
    "{person}家门口漏水，电话{phone}，请尽快处理",
    "网格员{person}到场处置，居民反映楼道堆物占道，影响消防通道",
    "{person}反映{place}噪音扰民，已联系楼栋长{person2}协调",
    "案卷超期：{code} 暴露垃圾",
    "志愿者交通文明劝导 {place}",
    "派遣未签收：{code} → W0123",
    "{place}燃气味道明显，住户{person}称已关阀，联系电话{phone}",
    "已电话回访，群众满意",
]


def corpus(n: int, people: list[str], places: list[str], seed: int = 8) -> list[tuple[str, list[str]]]:
    """``n`` (text, own people) pairs; the own people are a reporter, as ``case_public`` passes them."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = TEMPLATES[i % len(TEMPLATES)]
        text = t.format(place=rnd.choice(places), person=rnd.choice(people), person2=rnd.choice(people),
                        phone=f"1{rnd.choice('3589')}{rnd.randrange(10**9):09d}", code=f"20261129{i:05d}")
        out.append((text, [rnd.choice(people)]))
    return out


def per_text_us(fn, texts: list, rounds: int) -> float:
    runs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for item in texts:
            fn(item)
        runs.append((time.perf_counter() - t0) / len(texts) * 1e6)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gc_bench_mask_"))
    app, services = create_app(Settings.from_env({}, db_url=f"sqlite:///{tmp / 'b.db'}", data_dir=tmp,
                                                 simulate=False, demo=False))
    migrate(services.db.engine)
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    with services.db.read() as s:
        workers = list(s.scalars(select(Worker.name)))
        contacts = list(s.scalars(select(Contact.name)))
        places = list(s.scalars(select(Place.name)))
        t0 = time.perf_counter()
        known = known_names(s)
        first_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        NameIndex().matcher(s)
        rebuild_ms = (time.perf_counter() - t0) * 1e3
        texts = corpus(args.texts, workers + contacts, places)
        base = per_text_us(lambda it: mask_text(it[0], it[1]), texts, args.rounds)
        full = per_text_us(lambda it: mask_text(it[0], it[1], known_names(s)), texts, args.rounds)
        single = per_text_us(lambda it: known.mask(it[0]), texts, args.rounds)
        fetch = per_text_us(lambda it: known_names(s), texts, args.rounds)
    masked = sum(mask_text(t, o, known) != mask_text(t, o) for t, o in texts)
    avg_len = sum(len(t) for t, _ in texts) / len(texts)
    print(f"people:   {len(workers)} workers + {len(contacts)} contacts -> {len(known)} distinct names in the index")
    print(f"texts:    {len(texts)} (avg {avg_len:.0f} chars); {masked} gain a masked known name")
    print(f"index:    first build {first_ms:.1f} ms (queries + compile), a fresh index {rebuild_ms:.1f} ms")
    print(f"mask_text, patterns + own people only:      {base:6.1f} µs/text")
    print(f"mask_text + known names (what screens get): {full:6.1f} µs/text  (+{full - base:.1f})")
    print(f"  known-names single pass alone:            {single:6.1f} µs/text")
    print(f"  known_names(session) cached fetch:        {fetch:6.2f} µs/call")
    services.shutdown()


if __name__ == "__main__":
    main()
