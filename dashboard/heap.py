"""The server's heap and Python's cycle collector: what start-up built is kept out of its passes.

A full (generation-2) collection walks every container object the process holds, with the GIL held:
every thread stops until it is done. After start-up that is ~330,000 objects — imported modules
(plotly's figure classes, Dash, SQLAlchemy, pandas), the grid index, the wall's static map — that
never become garbage. On a 2-core box that walk took 100–560 ms, every 10–20 s under district load,
and a case being pushed to ten walls waited behind it (the wall ticker's tail; bench/RESULTS.md).
``settle()`` collects once and moves what is left into the permanent generation (``gc.freeze``),
so later full collections walk only what was made after start: 10–60 ms on the same box.

What is made after start grows with the connections: at 5,000 phones a full collection walked their sockets,
greenlets and buffers for 750–850 ms, every ~10 s (Python starts one after every 10 collections of the middle
generation once a quarter more objects have reached the oldest), and a task pushed to a phone then waited for it
(p95 375–790 ms; ``bench/live_capacity.py``). ``settle()`` also has a full collection wait for ``FULL_EVERY``
middle-generation collections (minutes at that load), leaving the young generations' thresholds as they are:
p95 94 ms in the same run, at 28 MB more memory (cycles that reach the oldest generation wait longer for it).
"""
from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)
FULL_EVERY = 1000  # middle-generation collections before a full one may run (Python's default: 10)


def settle() -> int:
    """Collect, then freeze every object alive now out of later collections; returns how many are frozen.

    Call once start-up is over (app built, shared page parts warmed). Objects made later are collected
    as usual; a frozen object that is dropped later is still freed by its reference count.
    """
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d start-up objects kept out of the cycle collector's passes (%.0f ms)",
             frozen, (time.perf_counter() - t0) * 1000)
    return frozen
