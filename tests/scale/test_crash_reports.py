"""kill -9 the server while 50 clients post reports: nothing acknowledged is lost, nothing is stored twice."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
import requests

from tests.scale.conftest import post_case

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CLIENTS = 50


def test_kill9_while_50_clients_report(deployment):
    key = deployment.api_key()
    srv = deployment.start("--no-sim")
    acked: dict[str, str] = {}     # token → idempotency key, answered 2xx
    unanswered: dict[str, str] = {}  # token → idempotency key, no answer (connection died)
    outcomes: Counter = Counter()  # status codes and exception names, for the failure message
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            token, idem = f"c{n:02d}-{i:04d}-{uuid.uuid4().hex[:6]}", f"idem-{uuid.uuid4().hex}"
            i += 1
            try:
                r = post_case(srv.url, key, token, idem, timeout=30)
            except requests.RequestException as exc:
                with lock:
                    outcomes[type(exc).__name__] += 1
                    unanswered[token] = idem
                continue
            with lock:
                outcomes[r.status_code] += 1
                if 200 <= r.status_code < 300:
                    acked[token] = idem
                else:
                    unanswered[token] = idem

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.time() + 90
    while len(acked) < 150 and time.time() < deadline:  # kill mid-stream, with writes in flight
        time.sleep(0.05)
    stop.set()  # each client ends after its request in flight
    srv.stop(kill=True)  # SIGKILL: no shutdown handler runs
    for t in threads:
        t.join(10)
    assert len(acked) >= 150, f"only {len(acked)} reports acknowledged before the kill: {outcomes}"
    assert unanswered, "the kill interrupted no request; the test proved nothing"

    dsn = deployment.db_url.replace("postgresql+psycopg", "postgresql")

    def stored() -> dict[str, list[int]]:
        """token → ids of the cases stored with it."""
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT description, id FROM case_file WHERE description LIKE 'scale test %'").fetchall()
        out: dict[str, list[int]] = {}
        for d, case_id in rows:
            out.setdefault(d.removeprefix("scale test "), []).append(case_id)
        return out

    # Which unanswered reports did commit before the kill (their answer was lost)? A retry must find exactly those.
    before = stored()
    restarted = deployment.start("--no-sim")
    # clients retry what got no answer, with the same idempotency key
    wrong = []
    for token, idem in unanswered.items():
        r = post_case(restarted.url, key, token, idem)
        committed = before.get(token)
        expected = 200 if committed else 201  # 200: the first case, found by its key; 201: stored now
        if r.status_code != expected or (committed and r.json()["id"] != committed[0]):
            wrong.append((token, bool(committed), r.status_code, r.text[:200]))
    assert not wrong, f"{len(wrong)} retries answered wrongly (token, committed before, status, body): {wrong[:3]}"

    by_token = {t: len(ids) for t, ids in stored().items()}
    missing = [t for t in acked if by_token.get(t, 0) == 0]
    twice = [t for t, n in by_token.items() if n > 1]
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {missing[:3]}"
    assert not twice, f"{len(twice)} reports stored twice, e.g. {twice[:3]}"
    assert set(by_token) == set(acked) | set(unanswered)  # every retried report is in, once
