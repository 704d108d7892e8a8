"""Run a CPU-bound call without stalling the other connections.

Under gevent (``python run.py --gevent``, ``run.py prod``'s gevent workers) every request, socket and background
loop of a process shares one OS thread: a call that computes for half a second without touching the network
holds them all for that long. ``offload`` runs such a call on gevent's pool of native threads and lets the
caller's greenlet wait; the interpreter then switches between that thread and the event loop as between any
two threads. With plain threads (``python run.py``) the caller's thread already is one: the call runs in place.
Only for calls that touch no greenlet-aware objects (sockets, gevent locks, the database pool): a compile, a
parse, a computation over data already read.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def cooperative() -> bool:
    """True when gevent has patched the standard library's threads in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def offload(fn: Callable[..., T], *args) -> T:
    """``fn(*args)``: on a native thread under gevent, in place otherwise."""
    if cooperative():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)
