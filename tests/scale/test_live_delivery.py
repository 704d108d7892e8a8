"""No wall misses an event: a wall cut off for 60 s catches up; an event from process A reaches a wall on B."""
from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
import redis
import requests

from dashboard.leader import LEADER_LOCK_KEY
from tests.conftest import REDIS_URL
from tests.scale.conftest import post_case
from tests.utils.wall_client import WallClient, all_seqs

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def head_seq(base: str) -> int:
    return requests.get(base + "/api/v1/events", params={"after": 0, "limit": 1}, timeout=10).json()["last_seq"]


def assert_complete(wall: WallClient, base: str, upto: int) -> None:
    """Every committed seq in (start, upto] applied exactly once."""
    expected = all_seqs(base, wall.start_seq, upto)
    applied = [s for s in wall.applied if s <= upto]
    dupes = len(applied) - len(set(applied))
    missing = sorted(set(expected) - set(applied))
    assert dupes == 0, f"{dupes} events applied twice"
    assert not missing, f"{len(missing)} events missed, e.g. {missing[:5]}"


def test_wall_cut_off_for_60_s_catches_up(deployment):
    """The simulator keeps the street busy (cases, position frames) while the wall is away."""
    key = deployment.api_key()
    srv = deployment.start("--sim-speed", "5")
    wall = WallClient(srv.url).start()
    stop = threading.Event()

    def reporter() -> None:  # reports from the API too, next to the simulator's
        while not stop.wait(0.5):
            try:
                post_case(srv.url, key, uuid.uuid4().hex[:8], f"idem-{uuid.uuid4().hex}")
            except requests.RequestException:
                pass

    t = threading.Thread(target=reporter, daemon=True)
    t.start()
    try:
        deadline = time.time() + 60  # a loaded machine may need a while before the first push
        while len(wall.pushed) < 5 and time.time() < deadline:
            time.sleep(0.2)
        pushed_before = len(wall.pushed)
        wall.cut_off()
        cut_at = wall.last_seq
        time.sleep(60)
        during = head_seq(srv.url) - cut_at
        wall.connect()
        time.sleep(5)
    finally:
        stop.set()
        t.join(5)
    upto = head_seq(srv.url)
    assert wall.wait_for_seq(upto, 30), f"wall at {wall.last_seq}, log at {upto}"
    wall.close()
    assert pushed_before > 0, "nothing was pushed before the cut"
    assert during > 60, f"only {during} events during the 60 s cut; the test proved little"
    assert wall.reconnects == 1
    assert len(wall.fetched) >= during * 0.9, "the missed events did not come from the catch-up fetch"
    assert any(s > cut_at + during for s in wall.received), "pushing did not resume after the reconnect"
    assert_complete(wall, srv.url, upto)


def leader_pid(db_url: str) -> int | None:
    """The pid of the process holding the leader lock (from its connection's application_name)."""
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        row = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s "
                           "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database "
                           "WHERE datname = current_database())", (LEADER_LOCK_KEY,)).fetchone()
    return int(row[0].rsplit("-", 1)[1]) if row else None


def test_event_from_process_a_reaches_wall_on_b_and_one_leader(deployment):
    key = deployment.api_key()
    a = deployment.start("--sim-speed", "2")
    b = deployment.start("--sim-speed", "2")
    wall = WallClient(b.url).start()
    try:
        r = post_case(a.url, key, "cross-process", f"idem-{uuid.uuid4().hex}")
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        deadline = time.time() + 10
        seen = None
        while time.time() < deadline and seen is None:
            seen = next((s for s in wall.received if s in wall.events and wall.events[s]["type"] == "case"
                         and wall.events[s]["payload"]["case"]["id"] == case_id), None)
            time.sleep(0.05)
        assert seen is not None, "the case reported on A never reached the wall on B by push"

        # exactly one of the two runs the simulator; kill -9 it and the other takes over
        pids = {a.proc.pid, b.proc.pid}
        deadline = time.time() + 15
        first = None
        while time.time() < deadline and first is None:
            first = leader_pid(deployment.db_url)
            time.sleep(0.2)
        assert first in pids, f"leader {first} is not one of {pids}"
        health = {s.proc.pid: requests.get(s.url + "/healthz", timeout=5).json()["simulator"] for s in (a, b)}
        assert sorted(health.values()) == [False, True] and health[first], health
        dead, alive = (a, b) if a.proc.pid == first else (b, a)
        dead.stop(kill=True)
        deadline = time.time() + 20
        second = None
        while time.time() < deadline and second != alive.proc.pid:
            second = leader_pid(deployment.db_url)
            time.sleep(0.5)
        assert second == alive.proc.pid, "the surviving process did not take over the simulator"
        assert requests.get(alive.url + "/healthz", timeout=5).json()["simulator"] is True
        # The survivor's simulator goes on publishing, and its events reach a wall on another process by push.
        # The first wall's server may be the one killed, so a third process (no simulator) serves a second wall.
        c = deployment.start("--no-sim")
        watcher = WallClient(c.url).start()
        try:
            upto = head_seq(alive.url)
            deadline = time.time() + 30
            while time.time() < deadline and not any(s > upto for s in watcher.received):
                time.sleep(0.2)
            after = sorted(s for s in watcher.received if s > upto)
            assert after, f"no event after seq {upto} from the new leader's simulator reached the wall on a third process"
            if alive is b:  # the first wall's server survived: it keeps up as well
                assert wall.wait_for_seq(after[0], 15), f"the wall on B stopped at {wall.last_seq}"
        finally:
            watcher.close()
    finally:
        wall.close()


def test_every_server_listens_to_the_queue_before_its_first_socket(deployment):
    """python-socketio subscribes to the queue when the first socket connects: an event another process published
    in that moment never reached the new wall by push. A server is subscribed before it answers at all."""
    deployment.start("--no-sim")
    deployment.start("--no-sim")
    counts = dict(redis.Redis.from_url(REDIS_URL).pubsub_numsub(deployment.channel))
    assert counts[deployment.channel.encode()] == 2, "both servers subscribed with no socket connected"
