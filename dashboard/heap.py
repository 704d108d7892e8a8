"""The server's heap and Python's cycle collector: what start-up built is kept out of its passes.

A full (generation-2) collection walks every container object the process holds, with the GIL held:
every thread stops until it is done. After start-up that is ~330,000 objects — imported modules
(plotly's figure classes, Dash, SQLAlchemy, pandas), the grid index, the wall's static map — that
never become garbage. On a 2-core box that walk took 100–560 ms, every 10–20 s under district load,
and a case being pushed to ten walls waited behind it (the wall ticker's tail; bench/RESULTS.md).
``settle()`` collects once and moves what is left into the permanent generation (``gc.freeze``),
so later full collections walk only what was made after start: 10–60 ms on the same box.
"""
from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect, then freeze every object alive now out of later collections; returns how many are frozen.

    Call once start-up is over (app built, shared page parts warmed). Objects made later are collected
    as usual; a frozen object that is dropped later is still freed by its reference count.
    """
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d start-up objects kept out of the cycle collector's passes (%.0f ms)",
             frozen, (time.perf_counter() - t0) * 1000)
    return frozen
