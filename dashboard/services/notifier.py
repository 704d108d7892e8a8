"""Delivery beyond the page: the notification outbox and its sender (issue 31 item 2).

What a resident should hear of besides the ``/r`` page (a grid notice today) is written as a ``NotifyOutbox`` row in
the same transaction as the thing it tells, so a notice is never published without its message nor a message sent
of a notice that rolled back. A sender in the leader process (``OutboxSender.loop``, started from
``Services._start_singletons``) drains the due rows through one backend:

- ``none``: the page only; rows are written ``skipped`` and never sent;
- ``webhook``: an HTTP POST of the message as JSON to the office's SMS or messaging platform
  (``GC_NOTIFY_WEBHOOK_URL``, configuration only — no request can name another address), signed with
  HMAC-SHA256 over ``<timestamp>.<body>`` in ``X-GC-Signature`` (``sha256=<hex>``), the Unix timestamp in
  ``X-GC-Timestamp`` and the outbox id in ``X-GC-Delivery`` (the platform drops a repeat: delivery is at least once).
  A 5xx, a 429, a timeout or a connection error is retried with exponential backoff and jitter up to
  ``GC_NOTIFY_MAX_ATTEMPTS``, then the row is ``dead``; another answer (a 4xx, a redirect) is not retried. Every
  attempt is a ``NotifyAttempt`` row: when, the status or error, how long.

The HTTP call is made outside any transaction: a slow platform never holds the write turn.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol, cast

import requests
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from ..db import in_batches
from ..models.residents import NotifyAttempt, NotifyOutbox
from ..timeutil import iso, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER = "X-GC-Signature", "X-GC-Timestamp", "X-GC-Delivery"
STATES = ("pending", "sent", "dead", "skipped")
ERROR_MAX = 500  # characters of an error kept per attempt


def enqueue(session: Session, *, kind: str, ref_id: int | None, payload: dict[str, Any], backend: str,
            now: datetime | None = None) -> NotifyOutbox:
    """Add a message to the outbox in the caller's transaction (``skipped`` when the backend is ``none``)."""
    now = now or utcnow()
    row = NotifyOutbox(kind=kind, ref_id=ref_id, payload=payload, state="skipped" if backend == "none" else "pending",
                       attempts=0, next_attempt_at=now, last_error="", created_at=now)
    session.add(row)
    return row


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-GC-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def message_body(outbox_id: int, kind: str, payload: dict[str, Any]) -> bytes:
    """The JSON a backend sends (UTF-8, Chinese unescaped, keys sorted: the bytes the signature covers)."""
    return json.dumps({"id": outbox_id, "kind": kind, **payload}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: ``retry`` says whether a failure may be tried again."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retry: bool = False
    retry_after_s: float | None = None
    duration_ms: float = 0.0


class Notifier(Protocol):
    name: str

    def deliver(self, outbox_id: int, kind: str, payload: dict[str, Any]) -> Outcome: ...


class WebhookNotifier:
    """POSTs each message to one configured URL, signed; never follows a redirect."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.url, self.secret, self.timeout_s, self.clock = url, secret, timeout_s, clock
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy or .netrc from the environment: the URL is the configured one

    def deliver(self, outbox_id: int, kind: str, payload: dict[str, Any]) -> Outcome:
        body = message_body(outbox_id, kind, payload)
        ts = str(int(self.clock()))
        headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP_HEADER: ts,
                   SIGNATURE_HEADER: sign(self.secret, ts, body), DELIVERY_HEADER: str(outbox_id),
                   "User-Agent": "GridCommand-notifier/1"}
        t0 = time.perf_counter()
        try:
            r = self.http.post(self.url, data=body, headers=headers, timeout=self.timeout_s, allow_redirects=False)
        except requests.Timeout:
            return Outcome(False, None, f"timeout after {self.timeout_s:g} s", retry=True, duration_ms=_ms(t0))
        except requests.RequestException as exc:
            return Outcome(False, None, f"connection failed: {type(exc).__name__}", retry=True, duration_ms=_ms(t0))
        ms, code = _ms(t0), r.status_code
        r.close()
        if 200 <= code < 300:
            return Outcome(True, code, duration_ms=ms)
        if code == 429:
            return Outcome(False, code, "429 too many requests", retry=True,
                           retry_after_s=_retry_after(r.headers.get("Retry-After")), duration_ms=ms)
        if code >= 500:
            return Outcome(False, code, f"{code} server error", retry=True, duration_ms=ms)
        return Outcome(False, code, f"{code} refused (not retried)", retry=False, duration_ms=ms)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (a date form is ignored: the backoff applies)."""
    try:
        return max(0.0, min(float(value), 86400.0)) if value else None
    except ValueError:
        return None


def backoff_s(attempts: int, base_s: float, max_s: float, rand: Callable[[], float] = random.random) -> float:
    """The delay after the ``attempts``-th failed attempt: base·2^(attempts−1), at most ``max_s``, of which a random
    half is taken off ("equal jitter": retries of many messages do not arrive together)."""
    full = min(max_s, base_s * 2 ** max(0, attempts - 1))
    return full * (0.5 + 0.5 * rand())


def notifier_from(settings) -> Notifier | None:  # noqa: ANN001
    """The configured backend (None for ``none``)."""
    if settings.notify_backend == "webhook":
        return WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret,
                               timeout_s=settings.notify_timeout_s)
    return None


class OutboxSender:
    """Drains due ``pending`` rows through a notifier, recording every attempt."""

    def __init__(self, db, notifier: Notifier, *, max_attempts: int = 6, backoff_base_s: float = 10.0,  # noqa: ANN001
                 backoff_max_s: float = 900.0, clock: Callable[[], datetime] = utcnow,
                 rand: Callable[[], float] = random.random, batch: int = 20) -> None:
        self.db, self.notifier, self.max_attempts = db, notifier, max_attempts
        self.base_s, self.max_s, self.clock, self.rand, self.batch = backoff_base_s, backoff_max_s, clock, rand, batch

    @classmethod
    def from_settings(cls, services) -> "OutboxSender | None":  # noqa: ANN001
        notifier = notifier_from(services.settings)
        if notifier is None:
            return None
        st = services.settings
        return cls(services.db, notifier, max_attempts=st.notify_max_attempts, backoff_base_s=st.notify_backoff_s,
                   backoff_max_s=st.notify_backoff_max_s)

    def due(self, now: datetime) -> list[tuple[int, str, dict[str, Any]]]:
        with self.db.read() as s:
            rows = s.execute(select(NotifyOutbox.id, NotifyOutbox.kind, NotifyOutbox.payload).where(
                NotifyOutbox.state == "pending", NotifyOutbox.next_attempt_at <= now)
                .order_by(NotifyOutbox.next_attempt_at, NotifyOutbox.id).limit(self.batch)).all()
        return [(r.id, r.kind, r.payload) for r in rows]

    def run_due(self, now: datetime | None = None) -> int:
        """Try every message due at ``now`` once; how many were tried."""
        tried = 0
        for outbox_id, kind, payload in self.due(now or self.clock()):
            outcome = self.notifier.deliver(outbox_id, kind, payload)
            self.record(outbox_id, outcome)
            tried += 1
        return tried

    def record(self, outbox_id: int, outcome: Outcome) -> None:
        """Write one attempt and move the message on: sent, due again later, or dead."""
        at = self.clock()
        with self.db.write(bulk=True) as s:
            row = s.get(NotifyOutbox, outbox_id)
            if row is None:
                return
            s.add(NotifyAttempt(outbox_id=outbox_id, at=at, backend=self.notifier.name,
                                status_code=outcome.status_code, error=outcome.error[:ERROR_MAX],
                                duration_ms=outcome.duration_ms))
            row.attempts += 1
            if row.state != "pending":  # withdrawn meanwhile: the attempt is recorded, the state kept
                return
            if outcome.ok:
                row.state, row.sent_at, row.last_error = "sent", at, ""
                return
            row.last_error = outcome.error[:ERROR_MAX]
            if outcome.retry and row.attempts < self.max_attempts:
                delay = backoff_s(row.attempts, self.base_s, self.max_s, self.rand)
                if outcome.retry_after_s is not None:
                    delay = max(delay, outcome.retry_after_s)
                row.next_attempt_at = at + timedelta(seconds=delay)
            else:
                row.state = "dead"
                log.warning("notification %d is dead after %d attempts: %s", outbox_id, row.attempts, outcome.error)

    def loop(self, term: threading.Event, wake: threading.Event, poll_s: float) -> None:
        """Drain until ``term``; wakes every ``poll_s`` seconds or when ``wake`` is set (a notice was published)."""
        while not term.is_set():
            try:
                while self.run_due() >= self.batch and not term.is_set():
                    pass
            except Exception:  # noqa: BLE001 — a failed pass is retried at the next
                log.exception("notification sender pass failed")
            wake.wait(poll_s)
            wake.clear()


def outbox_public(row: NotifyOutbox, attempts: list[NotifyAttempt] | None = None) -> dict[str, Any]:
    """One outbox message as the admin's status list shows it (the payload's notice title, not the payload)."""
    notice = (row.payload or {}).get("notice") or {}
    out: dict[str, Any] = {"id": row.id, "kind": row.kind, "ref_id": row.ref_id, "state": row.state,
                           "attempts": row.attempts, "next_attempt_at": iso(row.next_attempt_at),
                           "last_error": row.last_error, "created_at": iso(row.created_at),
                           "sent_at": iso(row.sent_at), "title": str(notice.get("title", ""))}
    if attempts is not None:
        out["attempt_list"] = [{"at": iso(a.at), "backend": a.backend, "status_code": a.status_code,
                                "error": a.error, "duration_ms": a.duration_ms} for a in attempts]
    return out


def outbox_status(session: Session, *, state: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Counts per state and the newest messages (with their attempts), for admins."""
    counts = {s: 0 for s in STATES}
    counts.update(dict(session.execute(select(NotifyOutbox.state, func.count()).group_by(NotifyOutbox.state)).all()))
    q = select(NotifyOutbox).order_by(NotifyOutbox.id.desc()).limit(limit)
    if state:
        q = q.where(NotifyOutbox.state == state)
    rows = list(session.scalars(q))
    by_row: dict[int, list[NotifyAttempt]] = {r.id: [] for r in rows}
    if rows:
        for a in session.scalars(select(NotifyAttempt).where(NotifyAttempt.outbox_id.in_(list(by_row)))
                                 .order_by(NotifyAttempt.id)):
            by_row[a.outbox_id].append(a)
    return {"counts": counts, "items": [outbox_public(r, by_row[r.id]) for r in rows]}


PRUNE_BATCH = 1000
DONE_STATES = ("sent", "skipped", "dead")  # a pending message is never pruned, however old


def prune_outbox(session: Session, *, older_than: timedelta, now: datetime | None = None,
                 limit: int = PRUNE_BATCH) -> int:
    """Delete at most ``limit`` of the oldest finished outbox messages created before ``now - older_than``, with
    their attempts (deleted here too: SQLite enforces the cascade only with its foreign keys on); their count."""
    cutoff = (now or utcnow()) - older_than
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(timezone.utc).replace(tzinfo=None)  # stored naive UTC
    ids = list(session.scalars(select(NotifyOutbox.id).where(
        NotifyOutbox.state.in_(DONE_STATES), NotifyOutbox.created_at < cutoff).order_by(NotifyOutbox.id).limit(limit)))
    if not ids:
        return 0
    session.execute(delete(NotifyAttempt).where(NotifyAttempt.outbox_id.in_(ids)))
    result = cast(CursorResult, session.execute(delete(NotifyOutbox).where(NotifyOutbox.id.in_(ids))))  # DML
    return result.rowcount or 0


def prune_outbox_in_batches(db, *, older_than: timedelta, now: datetime | None = None,  # noqa: ANN001
                            batch: int = PRUNE_BATCH) -> int:
    """prune_outbox a batch per background write transaction until none is left."""
    return in_batches(db, lambda s, n: prune_outbox(s, older_than=older_than, now=now, limit=n), batch)
