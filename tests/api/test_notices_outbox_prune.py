"""The notify outbox is pruned (issue 31): housekeeping deletes sent, skipped and dead messages older than
GC_NOTIFY_KEEP_DAYS (default 30) with their attempts, in short batches; pending ones and younger ones stay. The clock
is pinned (the pass reads services.clock)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from dashboard.models.residents import NotifyAttempt, NotifyOutbox
from dashboard.services.notifier import prune_outbox_in_batches
from dashboard.timeutil import UTC

T0 = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # 00:30 in Shanghai: the day has just turned there


def seed(services) -> dict[str, int]:
    """One message per (state, age in days), each with two attempts; their ids by "<state>-<days>"."""
    ids = {}
    with services.db.write() as s:
        for state in ("sent", "skipped", "dead", "pending"):
            for days in (2, 29, 31, 400):
                at = T0 - timedelta(days=days)
                row = NotifyOutbox(kind="notice", ref_id=None, payload={"title": "x"}, state=state, attempts=2,
                                   next_attempt_at=at, last_error="", created_at=at,
                                   sent_at=at if state == "sent" else None)
                s.add(row)
                s.flush()
                s.add_all([NotifyAttempt(outbox_id=row.id, at=at, backend="webhook", status_code=500, error="x",
                                         duration_ms=1.0) for _ in range(2)])
                ids[f"{state}-{days}"] = row.id
    return ids


def left(services) -> tuple[set[int], int]:
    with services.db.read() as s:
        return set(s.scalars(select(NotifyOutbox.id))), s.scalar(select(func.count()).select_from(NotifyAttempt))


def test_housekeeping_deletes_finished_messages_past_the_keep_days_with_their_attempts(district):
    app, services, _ = district
    ids = seed(services)
    services.clock = lambda: T0
    assert services.settings.notify_keep_days == 30
    services.housekeeping()
    kept, attempts = left(services)
    gone = {ids[f"{st}-{d}"] for st in ("sent", "skipped", "dead") for d in (31, 400)}
    assert kept == set(ids.values()) - gone  # pending ones stay whatever their age; 29 days is within 30
    assert attempts == 2 * len(kept)
    services.housekeeping()  # nothing more to do
    assert left(services)[0] == kept


def test_the_prune_goes_in_batches_and_honours_the_setting(district):
    app, services, _ = district
    ids = seed(services)
    # GC_NOTIFY_KEEP_DAYS=7 through the settings: the 29-day-old finished messages go too, 2 per transaction
    n = prune_outbox_in_batches(services.db, older_than=timedelta(days=7), now=T0, batch=2)
    assert n == 9
    kept, attempts = left(services)
    assert kept == {ids[f"{st}-2"] for st in ("sent", "skipped", "dead")} | {
        ids[f"pending-{d}"] for d in (2, 29, 31, 400)}
    assert attempts == 2 * len(kept)
    services.settings = services.settings.model_copy(update={"notify_keep_days": 1})
    services.clock = lambda: T0
    services.housekeeping()
    assert left(services)[0] == {ids[f"pending-{d}"] for d in (2, 29, 31, 400)}
