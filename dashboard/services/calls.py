"""Video dispatch calls: ring, answer, decline, hang up — and the record on the case.

The media goes browser to browser (WebRTC); the server only relays signalling
(dashboard/realtime_calls.py) and keeps this record: who called whom, when, how
long, and whether it was answered, declined or missed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import events
from ..masking import mask_name
from ..models import Alert, Case, CaseLog, Grid, VideoCall, Worker
from ..timeutil import iso, utcnow
from .cases import case_public
from .name_index import known_names

LIVE_STATES = ("ringing", "active")
OUTCOME_TEXT = {"ended": "视频通话 {d}", "declined": "视频通话：对方已拒绝", "missed": "视频通话：无人接听",
                "cancelled": "视频通话：已取消"}


class CallError(ValueError):
    """A call action that is not possible (unknown call, wrong party, wrong state)."""


def call_public(c: VideoCall, worker_name: str | None = None) -> dict[str, Any]:
    """A call as screens see it (the worker's name masked)."""
    return {"id": c.id, "operator": known_names(c).mask(c.operator), "worker_id": c.worker_id,
            "worker_name": mask_name(worker_name),
            "case_id": c.case_id, "alert_id": c.alert_id, "state": c.state, "created_at": iso(c.created_at),
            "answered_at": iso(c.answered_at), "ended_at": iso(c.ended_at), "ended_by": c.ended_by,
            "duration_s": c.duration_s}


def start_call(session: Session, *, operator: str, worker_id: int, caller_sid: str, case_id: int | None = None,
               alert_id: int | None = None, now: datetime | None = None) -> VideoCall:
    """Open a ringing call to a worker (about a case or an alert, if given)."""
    if session.get(Worker, worker_id) is None:
        raise CallError(f"unknown worker {worker_id}")
    if case_id is not None and session.get(Case, case_id) is None:
        raise CallError(f"unknown case {case_id}")
    if alert_id is not None:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise CallError(f"unknown alert {alert_id}")
        case_id = case_id or alert.case_id
    c = VideoCall(operator=operator, worker_id=worker_id, case_id=case_id, alert_id=alert_id, state="ringing",
                  caller_sid=caller_sid, created_at=now or utcnow())
    session.add(c)
    session.flush()
    return c


def live_call(session: Session, call_id: Any) -> VideoCall:
    """A call that is still ringing or connected, else CallError."""
    c = session.get(VideoCall, call_id) if isinstance(call_id, int) else None
    if c is None:
        raise CallError(f"unknown call {call_id!r}")
    if c.state not in LIVE_STATES:
        raise CallError(f"call {c.id} is already {c.state}")
    return c


def answer_call(session: Session, c: VideoCall, *, callee_sid: str, now: datetime | None = None) -> VideoCall:
    """ringing → active."""
    if c.state != "ringing":
        raise CallError(f"call {c.id} is {c.state}, not ringing")
    c.state, c.callee_sid, c.answered_at = "active", callee_sid, now or utcnow()
    return c


def end_call(session: Session, c: VideoCall, *, by: str, outcome: str | None = None,
             now: datetime | None = None) -> VideoCall:
    """End a call: hang-up of an active call → ended; of a ringing one → declined/missed/cancelled."""
    now = now or utcnow()
    if outcome is None:
        outcome = "ended" if c.state == "active" else ("declined" if by == "worker" else "cancelled")
    if outcome not in OUTCOME_TEXT:
        raise CallError(f"unknown outcome {outcome!r}")
    c.state, c.ended_at, c.ended_by = outcome, now, by
    c.duration_s = round((now - c.answered_at).total_seconds(), 1) if c.answered_at else 0.0
    if c.case_id is not None:
        _record_on_case(session, c, now)
    return c


def _record_on_case(session: Session, c: VideoCall, now: datetime) -> None:
    case = session.get(Case, c.case_id)
    if case is None:
        return
    worker = session.get(Worker, c.worker_id)
    d = int(c.duration_s or 0)
    note = OUTCOME_TEXT[c.state].format(d=f"{d // 60}分{d % 60:02d}秒")
    case.timeline.append(CaseLog(
        case_id=case.id, at=now, action="video_call", from_state=case.state, to_state=case.state, actor=c.operator,
        note=f"{note}（{mask_name(worker.name) if worker else c.worker_id}）",
        data={"call_id": c.id, "worker_id": c.worker_id, "outcome": c.state, "started_at": iso(c.created_at),
              "answered_at": iso(c.answered_at), "ended_at": iso(c.ended_at), "duration_s": c.duration_s,
              "ended_by": c.ended_by}))
    session.flush()
    names = {worker.id: worker.name} if worker else {}
    events.record(session, "case", {"action": "video_call", "case": case_public(case, worker_names=names)},
                  community_id=case.community_id)


def calls_of(session: Session, *, case_id: int | None = None, worker_id: int | None = None,
             community_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Calls, newest first, of a case or a worker (every call when neither is given).

    ``community_id`` keeps only calls with that community's workers (by home grid) about no case or
    one of its cases: a community's operator sees neither whom another community called nor about what.
    """
    q = select(VideoCall, Worker.name).join(Worker, Worker.id == VideoCall.worker_id).order_by(
        VideoCall.id.desc()).limit(limit)
    if case_id is not None:
        q = q.where(VideoCall.case_id == case_id)
    if worker_id is not None:
        q = q.where(VideoCall.worker_id == worker_id)
    if community_id is not None:
        own_grids = select(Grid.id).where(Grid.community_id == community_id)
        own_cases = select(Case.id).where(Case.community_id == community_id)
        q = q.where(Worker.grid_id.in_(own_grids), or_(VideoCall.case_id.is_(None), VideoCall.case_id.in_(own_cases)))
    return [call_public(c, n) for c, n in session.execute(q)]


def calls_of_sid(session: Session, sid: str) -> list[VideoCall]:
    """Live calls one socket takes part in (to end them when it disconnects)."""
    return list(session.scalars(select(VideoCall).where(VideoCall.state.in_(LIVE_STATES), (
        VideoCall.caller_sid == sid) | (VideoCall.callee_sid == sid))))


def ice_servers(settings) -> list[dict[str, Any]]:
    """RTCPeerConnection iceServers from GC_ICE_SERVERS (JSON list, or comma-separated URLs); none by default.

    On a LAN the browsers reach each other by their host candidates, so no STUN/TURN
    is needed and nothing leaves the network.
    """
    import json

    raw = settings.ice_servers.strip()
    if not raw:
        return []
    if raw.startswith("["):
        value = json.loads(raw)
        return [v if isinstance(v, dict) else {"urls": v} for v in value]
    return [{"urls": u.strip()} for u in raw.split(",") if u.strip()]
