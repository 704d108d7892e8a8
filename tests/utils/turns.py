"""Who takes the loop's turns: ``offload.turn`` (and ``turns``) recorded by the function that called them."""
from __future__ import annotations

import sys
from collections import Counter


def record_turns(monkeypatch, *modules) -> Counter:
    """Replace ``offload.turn`` (and the ``turn`` that ``modules`` imported by name) with a counter of the calling
    function's name (the loop's owner when called through ``turns``). Without gevent ``turn`` does nothing, so
    a long loop's turns are counted rather than timed."""
    from dashboard import offload

    seen: Counter = Counter()

    def turn() -> None:
        f = sys._getframe(1)
        if f.f_code is offload.turns.__code__:
            f = f.f_back
        seen[f.f_code.co_name] += 1

    monkeypatch.setattr(offload, "turn", turn)
    for m in modules:
        monkeypatch.setattr(m, "turn", turn)
    return seen
