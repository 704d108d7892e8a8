"""``offload``: a CPU-bound call under gevent runs on a native thread, and the event loop keeps serving meanwhile."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# each probe runs gevent-patched in a subprocess, beside a greenlet that ticks every 10 ms: ``ticks`` counts the
# event loop's turns while the probe works
TICKER = """
from gevent import monkey
monkey.patch_all()
import sys
import time
import gevent

ticks = []

def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)

gevent.spawn(tick)
gevent.sleep(0.05)
"""


def probe(script: str, *args: str) -> str:
    """Run ``script`` after the ticker; its standard output (the test fails on a non-zero exit)."""
    r = subprocess.run([sys.executable, "-c", TICKER + script, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


COMPUTE = """
from dashboard.offload import cooperative, offload

def burn():  # half a second of pure computation, touching nothing of gevent's
    t = time.perf_counter()
    while time.perf_counter() - t < 0.5:
        pass
    return 7

n = len(ticks)
got = {mode}(burn)
print(cooperative(), got, len(ticks) - n)
"""


@pytest.mark.parametrize("mode, turning", [("offload", True), ("(lambda f: f())", False)])
def test_the_event_loop_turns_during_an_offloaded_computation(mode, turning):
    patched, result, ticks = probe(COMPUTE.format(mode=mode)).split()
    assert patched == "True" and result == "7"
    # a ticker greenlet every 10 ms: ~50 ticks in 0.5 s when the loop turns; none when the call holds it
    assert (int(ticks) >= 10) is turning, ticks


def test_without_gevent_the_call_runs_in_place():
    from dashboard.offload import cooperative, offload

    assert not cooperative()
    assert offload(lambda a, b: a + b, 2, 3) == 5


PASS = """
from sqlalchemy import text
from dashboard.db import make_engine

engine = make_engine("sqlite:///" + sys.argv[1])
with engine.connect() as c:  # a long pass of many small statements (a rules pass, a simulator step)
    n, t = len(ticks), time.perf_counter()
    while time.perf_counter() - t < 0.5:
        c.execute(text("SELECT 1"))
print(len(ticks) - n)
"""


def test_a_long_pass_of_statements_gives_the_event_loop_turns_under_gevent(tmp_path):
    """A pass of many statements held every connection of a gevent process for its whole length (no statement
    waits on the network: SQLite); the engine now yields after each statement."""
    out = probe(PASS, str(tmp_path / "t.db"))
    assert int(out) >= 10, out  # ~50 ticks of 10 ms in 0.5 s; none without the yields


MILLISECOND_PASS = """
from sqlalchemy import text
from dashboard.db import make_engine

engine = make_engine("sqlite:///" + sys.argv[1])
STEP = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < :n) SELECT count(*) FROM r"
with engine.connect() as c:
    n = 1000  # statements of about a millisecond each (a simulator step, a rules pass): quick, so run in place
    while True:
        t = time.perf_counter()
        c.execute(text(STEP), {"n": n})
        if time.perf_counter() - t > 0.0008:
            break
        n *= 2
    for _ in range(5):
        c.execute(text(STEP), {"n": n})
    n0, t = len(ticks), time.perf_counter()
    while time.perf_counter() - t < 0.5:
        c.execute(text(STEP), {"n": n})
print(len(ticks) - n0)
"""


def test_a_pass_of_millisecond_statements_lets_the_loop_read_its_sockets_and_timers(tmp_path):
    """Yielding with ``sleep(0)`` after each statement only queued the pass behind the greenlets ready then: the
    loop read its sockets and timers after 50 such yields, 50 ms with statements of a millisecond (an offloaded
    statement's answer, a wall's push, the ticker here waited that long)."""
    out = probe(MILLISECOND_PASS, str(tmp_path / "t.db"))
    assert int(out) >= 25, out  # ~45 ticks of 10 ms in 0.5 s; ~10 when the loop turns every 50 statements


LONG_QUERY = """
from sqlalchemy import text
from dashboard.db import make_engine

engine = make_engine("sqlite:///" + sys.argv[1])
with engine.connect() as c:  # one statement that computes for a while inside SQLite (a city's rules pass)
    n, t = len(ticks), time.perf_counter()
    got = c.execute(text("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) "
                         "SELECT count(*), sum(i % 7) FROM r")).one()
    took = time.perf_counter() - t
rows = [tuple(r) for r in engine.connect().execute(text("SELECT 1 UNION ALL SELECT 2"))]
print(len(ticks) - n, round(took, 2), got[0], rows)
"""


def test_one_long_sqlite_statement_runs_off_the_event_loop_under_gevent(tmp_path):
    """SQLite computes in C: under threads that releases the interpreter, under gevent one long statement held
    every connection of the process (a city wall's reports waited seconds behind the rules pass)."""
    ticks, took, count, rows = probe(LONG_QUERY, str(tmp_path / "t.db")).split(" ", 3)
    assert count == "3000000" and rows.strip() == "[(1,), (2,)]"
    # a tick every 10 ms while the statement ran: most of them, where the statement holding the loop gives none
    assert int(ticks) >= float(took) * 100 * 0.5, (ticks, took)


ROUTING = """
from gevent.monkey import get_original
from sqlalchemy import event, text
from dashboard.db import make_engine

loop_thread = get_original("_thread", "get_ident")()
engine = make_engine("sqlite:///" + sys.argv[1])

@event.listens_for(engine, "connect")
def _where(dbapi, _rec):  # on_loop(): 1 when the statement runs on the loop's own thread
    dbapi.create_function("on_loop", 0, lambda: int(get_original("_thread", "get_ident")() == loop_thread))

COUNT = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < :n) SELECT count(*), on_loop() FROM r"
with engine.connect() as c:
    def run(n):
        n0 = len(ticks)
        got, on_loop = c.execute(text(COUNT), {"n": n}).one()
        assert got == n
        return f"{on_loop}:{int(len(ticks) - n0 >= 10)}"

    seen = [run(10) for _ in range(5)]  # quick: the first on a thread, then in place
    seen.append(run(2000000))  # turns slow in place: holds the loop this once
    seen.append(run(2000000))  # then runs on a thread, the loop turning
    seen += [run(10) for _ in range(3)]  # quick again, but its recent peak sends it to the thread a while
print(" ".join(seen))
"""


def test_a_quick_statement_runs_in_place_and_one_seen_slow_on_a_native_thread(tmp_path):
    """A crossing to a native thread costs 4-6 ms on a busy loop, where most statements take microseconds in
    place: a statement known to be quick runs in place, one never seen or seen slow lately on a thread."""
    seen = probe(ROUTING, str(tmp_path / "t.db")).split()
    # "on the loop : the loop turned meanwhile" per run
    assert seen[:5] == ["0:0", "1:0", "1:0", "1:0", "1:0"], seen
    assert seen[5] == "1:0", seen  # slow in place: no tick while it ran
    assert seen[6] == "0:1", seen  # on a thread: ticks while it ran
    assert seen[7:] == ["0:0", "0:0", "0:0"], seen


BEGIN_WAITS = """
import sqlite3
from sqlalchemy import text
from dashboard.db import Database

db = Database("sqlite:///" + sys.argv[1])
with db.write() as s:
    s.execute(text("CREATE TABLE t (i INTEGER)"))
for _ in range(5):  # BEGIN IMMEDIATE is quick while nobody else writes
    with db.write() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
other = sqlite3.connect(sys.argv[1], isolation_level=None)  # another process's writer (an import beside the server)
other.execute("BEGIN IMMEDIATE")
gevent.spawn_later(0.4, other.execute, "COMMIT")
n0, t = len(ticks), time.perf_counter()
with db.write() as s:  # waits on the busy timeout until the other writer commits
    s.execute(text("INSERT INTO t VALUES (2)"))
print(len(ticks) - n0, round(time.perf_counter() - t, 2))
"""


def test_a_write_waiting_for_another_process_writer_waits_off_the_loop(tmp_path):
    """A BEGIN IMMEDIATE that is quick every time would run in place, and when another process holds SQLite's write
    lock its busy timeout would hold the loop (and with it everything, up to 30 s): it always runs on a thread."""
    ticks, took = probe(BEGIN_WAITS, str(tmp_path / "t.db")).split()
    assert float(took) >= 0.3, took  # it did wait for the other writer
    assert int(ticks) >= float(took) * 100 * 0.5, (ticks, took)  # and the loop kept turning meanwhile


def test_run_py_knows_every_subcommand_it_leaves_unpatched():
    """run.py decides on gevent before argparse exists (the patch must come first) from its own list of
    subcommands: a subcommand added to the parser but not to the list would run patched."""
    import run

    sub = next(a for a in run.build_parser()._actions if a.dest == "command")
    assert set(sub.choices) - {"serve"} == run._SUBCOMMANDS
