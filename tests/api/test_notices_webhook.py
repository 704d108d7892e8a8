"""The notifier's webhook against a local HTTP server: every message signed (HMAC-SHA256 over timestamp.body, checked
here as the office's platform would), a 5xx, 429, timeout or refused connection retried with exponential backoff
and jitter on a pinned clock until the last attempt makes it dead, a 4xx never retried, every attempt recorded; the
`none` backend writes its rows skipped; the outbox row commits with its notice or not at all."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from dashboard.models.residents import Notice, NotifyAttempt, NotifyOutbox
from dashboard.services.notifier import OutboxSender, WebhookNotifier, backoff_s
from dashboard.timeutil import UTC
from tests.api.conftest import make_key
from tests.conftest import make_settings
from tests.utils.factories import make_district

SECRET = "notify-secret-0123456789"
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: a pinned clock, any hour the suite runs


class Platform:
    """The office's SMS platform: answers each POST with the next scripted status (``"hang"``: answers too late)."""

    def __init__(self, script: list) -> None:
        self.script, self.got = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append((dict(self.headers), body))
                step = outer.script.pop(0) if outer.script else 200
                if step == "hang":
                    outer.release.wait(5)
                    step = 200
                self.send_response(step)
                if step == 429:
                    self.send_header("Retry-After", "120")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform():
    made: list[Platform] = []

    def start(*script) -> Platform:
        p = Platform(list(script))
        made.append(p)
        return p

    yield start
    for p in made:
        p.close()


def _world(sqlite_url, tmp_path, **settings):
    from dashboard.app import create_app
    from dashboard.db import migrate

    app, services = create_app(make_settings(sqlite_url, tmp_path, **settings))
    migrate(services.db.engine)
    with services.db.write() as s:
        d = make_district(s)
        wid, gid = d["workers"][0].id, d["grids"][0].id
    services.clock = lambda: T0
    return app, services, make_key(services, "worker", worker_id=wid), gid


@pytest.fixture
def webhook_world(sqlite_url, tmp_path, platform):
    def build(*script, timeout_s: float = 2.0):
        p = platform(*script)
        app, services, key, gid = _world(sqlite_url, tmp_path, notify_backend="webhook", notify_webhook_url=p.url,
                                         notify_webhook_secret=SECRET, notify_timeout_s=timeout_s,
                                         notify_max_attempts=4, notify_backoff_s=10, notify_backoff_max_s=25)
        worlds.append(services)
        return app, services, key, gid, p

    worlds: list = []
    yield build
    for s in worlds:
        s.shutdown()


def publish(app, key: str, title: str = "停水通知", **extra):
    r = app.test_client().post("/api/v1/notices", headers={"X-API-Key": key},
                               json={"scope": "grid", "title": title, "body": "明天 9:00-12:00 停水", **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def sender_for(services, clock: Clock, *, jitter: float = 1.0) -> OutboxSender:
    st = services.settings
    notifier = WebhookNotifier(st.notify_webhook_url, st.notify_webhook_secret, timeout_s=st.notify_timeout_s,
                               clock=lambda: clock().timestamp())
    return OutboxSender(services.db, notifier, max_attempts=st.notify_max_attempts, backoff_base_s=st.notify_backoff_s,
                        backoff_max_s=st.notify_backoff_max_s, clock=clock, rand=lambda: jitter)


def outbox(services) -> tuple[NotifyOutbox, list[NotifyAttempt]]:
    with services.db.read() as s:
        row = s.scalar(select(NotifyOutbox))
        attempts = list(s.scalars(select(NotifyAttempt).order_by(NotifyAttempt.id)))
        s.expunge_all()
    return row, attempts


def test_the_message_is_signed_over_timestamp_and_body(webhook_world):
    app, services, key, gid, p = webhook_world(200)
    notice = publish(app, key, urgent=True)
    clock = Clock()
    assert sender_for(services, clock).run_due() == 1
    (headers, body), = p.got
    ts, sig = headers["X-GC-Timestamp"], headers["X-GC-Signature"]
    assert ts == str(int(T0.timestamp()))
    expected = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, expected)
    wrong = "sha256=" + hmac.new(b"another-secret-123", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sig != wrong  # the check above can fail
    msg = json.loads(body)
    assert msg["kind"] == "notice" and msg["notice"]["id"] == notice["id"] and msg["notice"]["urgent"] is True
    assert msg["notice"]["title"] == "停水通知" and [g["id"] for g in msg["audience"]["grids"]] == [gid]
    assert headers["X-GC-Delivery"] == str(msg["id"])
    row, attempts = outbox(services)
    assert (row.state, row.attempts, row.sent_at) == ("sent", 1, T0)
    assert [(a.status_code, a.backend, a.error) for a in attempts] == [(200, "webhook", "")]


def test_5xx_is_retried_with_exponential_backoff_until_dead(webhook_world):
    app, services, key, _, p = webhook_world(503, 500, 502, 503, 200)
    publish(app, key)
    clock = Clock()
    sender = sender_for(services, clock, jitter=1.0)  # jitter 1.0: the full delay
    due_times = []
    for expected_attempts in range(1, 5):
        assert sender.run_due() == 1
        row, attempts = outbox(services)
        assert row.attempts == expected_attempts and len(attempts) == expected_attempts
        if row.state == "dead":
            break
        due_times.append(row.next_attempt_at - clock.now)
        clock.now = row.next_attempt_at - timedelta(seconds=1)
        assert sender.run_due() == 0  # not before its time
        clock.now = row.next_attempt_at
    # 10 s, 20 s, then capped at 25 s (GC_NOTIFY_BACKOFF_S 10, GC_NOTIFY_BACKOFF_MAX_S 25); the 4th attempt was the last
    assert due_times == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=25)]
    row, attempts = outbox(services)
    assert row.state == "dead" and row.sent_at is None and "503" in row.last_error
    assert [a.status_code for a in attempts] == [503, 500, 502, 503] and len(p.got) == 4
    clock.now += timedelta(hours=1)
    assert sender.run_due() == 0  # a dead message is never tried again


def test_a_retry_that_succeeds_is_sent_and_jitter_shortens_the_wait(webhook_world):
    app, services, key, _, p = webhook_world(500, 204)
    publish(app, key)
    clock = Clock()
    sender = sender_for(services, clock, jitter=0.0)  # jitter 0: half the delay
    sender.run_due()
    row, _ = outbox(services)
    assert row.next_attempt_at - T0 == timedelta(seconds=5)
    clock.now = row.next_attempt_at
    sender.run_due()
    row, attempts = outbox(services)
    assert row.state == "sent" and [a.status_code for a in attempts] == [500, 204]
    assert [h["X-GC-Delivery"] for h, _ in p.got] == [str(row.id)] * 2  # the platform can drop a repeat


def test_4xx_is_not_retried(webhook_world):
    app, services, key, _, p = webhook_world(400, 200)
    publish(app, key)
    clock = Clock()
    sender = sender_for(services, clock)
    sender.run_due()
    clock.now += timedelta(hours=2)
    assert sender.run_due() == 0
    row, attempts = outbox(services)
    assert row.state == "dead" and row.attempts == 1 and [a.status_code for a in attempts] == [400]
    assert len(p.got) == 1


def test_429_is_retried_after_its_retry_after(webhook_world):
    app, services, key, _, p = webhook_world(429, 200)
    publish(app, key)
    clock = Clock()
    sender = sender_for(services, clock)
    sender.run_due()
    row, _ = outbox(services)
    assert row.state == "pending" and row.next_attempt_at - T0 == timedelta(seconds=120)  # Retry-After over 10 s
    clock.now = row.next_attempt_at
    sender.run_due()
    row, attempts = outbox(services)
    assert row.state == "sent" and [a.status_code for a in attempts] == [429, 200]


def test_a_timeout_and_a_refused_connection_are_retried_and_recorded(webhook_world):
    app, services, key, _, p = webhook_world("hang", 200, timeout_s=0.3)
    publish(app, key)
    clock = Clock()
    sender = sender_for(services, clock)
    sender.run_due()
    row, attempts = outbox(services)
    assert row.state == "pending" and attempts[0].status_code is None and "timeout" in attempts[0].error
    assert attempts[0].duration_ms >= 250
    p.release.set()
    p.close()  # nobody listens any more: the next attempt's connection is refused
    clock.now = row.next_attempt_at
    sender.run_due()
    row, attempts = outbox(services)
    assert row.state == "pending" and row.attempts == 2 and "connection" in attempts[1].error


def test_backoff_doubles_and_stays_under_its_cap():
    assert [backoff_s(n, 10, 900, lambda: 1.0) for n in (1, 2, 3, 4, 10)] == [10, 20, 40, 80, 900]
    assert backoff_s(3, 10, 900, lambda: 0.0) == 20  # equal jitter: between half and the whole


def test_the_none_backend_writes_skipped_rows(sqlite_url, tmp_path):
    app, services, key, _ = _world(sqlite_url, tmp_path)
    try:
        publish(app, key)
        row, attempts = outbox(services)
        assert row.state == "skipped" and attempts == []
        assert OutboxSender.from_settings(services) is None  # no sender runs
    finally:
        services.shutdown()


def test_a_notice_refused_writes_no_outbox_row(webhook_world):
    app, services, key, _, _ = webhook_world()
    r = app.test_client().post("/api/v1/notices", headers={"X-API-Key": key},
                               json={"scope": "grid", "title": "x", "picture": "u_" + "0" * 32})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "picture"
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(NotifyOutbox)) == 0
        assert s.scalar(select(func.count()).select_from(Notice)) == 0


def test_withdrawing_a_notice_skips_its_undelivered_message(webhook_world):
    app, services, key, _, p = webhook_world(200)
    notice = publish(app, key)
    r = app.test_client().post(f"/api/v1/notices/{notice['id']}/withdraw", headers={"X-API-Key": key})
    assert r.status_code == 200 and r.get_json()["state"] == "withdrawn"
    assert sender_for(services, Clock()).run_due() == 0 and p.got == []
    row, _ = outbox(services)
    assert row.state == "skipped"


def test_admins_see_the_outbox(webhook_world):
    app, services, key, _, _ = webhook_world(503)
    publish(app, key)
    sender_for(services, Clock()).run_due()
    admin = make_key(services, "admin")
    r = app.test_client().get("/api/v1/notify/outbox", headers={"X-API-Key": admin})
    assert r.status_code == 200
    body = r.get_json()
    assert body["backend"] == "webhook" and body["counts"]["pending"] == 1
    (item,) = body["items"]
    assert item["title"] == "停水通知" and [a["status_code"] for a in item["attempt_list"]] == [503]
    assert app.test_client().get("/api/v1/notify/outbox", headers={"X-API-Key": key}).status_code == 403
    with services.db.read() as s:  # every community's messages: a community-bound admin may not read them
        from dashboard.models import Community

        comm = s.scalar(select(Community.id))
    community_admin = make_key(services, "admin", community_id=comm)
    assert app.test_client().get("/api/v1/notify/outbox", headers={"X-API-Key": community_admin}).status_code == 403


def test_webhook_settings_are_checked_at_start():
    from dashboard.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="GC_NOTIFY_WEBHOOK_URL"):
        Settings.from_env({"GC_NOTIFY_BACKEND": "webhook", "GC_NOTIFY_WEBHOOK_SECRET": SECRET})
    with pytest.raises(SettingsError, match="GC_NOTIFY_WEBHOOK_SECRET") as exc:
        Settings.from_env({"GC_NOTIFY_BACKEND": "webhook", "GC_NOTIFY_WEBHOOK_URL": "https://sms.example/hook",
                           "GC_NOTIFY_WEBHOOK_SECRET": "short-secret"})
    assert "short-secret" not in str(exc.value)  # a secret never reaches a log
    with pytest.raises(SettingsError, match="GC_NOTIFY_BACKEND"):
        Settings.from_env({"GC_NOTIFY_BACKEND": "sms"})


def test_the_sender_loop_goes_at_once_when_a_notice_wakes_it(webhook_world):
    """The background sender (started in the leader from Services._start_singletons) polls every
    GC_NOTIFY_POLL_S, but a notice published in its process wakes it: delivered well before the poll."""
    app, services, key, _, p = webhook_world(200)
    sender = OutboxSender.from_settings(services)
    assert sender is not None
    term = threading.Event()
    th = threading.Thread(target=sender.loop, args=(term, services.notify_wake, 60.0), daemon=True)
    th.start()
    try:
        import time

        time.sleep(0.2)  # the loop's first pass found nothing and waits (60 s) for a wake-up
        services.clock = None  # the loop's clock is the real one: the row must be due now
        t0 = time.monotonic()
        publish(app, key, title="唤醒")
        while time.monotonic() - t0 < 5 and not p.got:
            time.sleep(0.02)
        assert p.got and json.loads(p.got[0][1])["notice"]["title"] == "唤醒"
        assert time.monotonic() - t0 < 5
    finally:
        term.set()
        services.notify_wake.set()
        th.join(5)
    assert not th.is_alive()
