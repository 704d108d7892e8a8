"""Residents in the loop (issue 31): the residents' page /r of a compound's QR code, their reports and tracking.

A resident has no account. The QR code in a compound carries its grid as ``/r?g=<grid code>.<check>``: the grid
codes are public, the check (an HMAC of the code under the server's secret, ``GC_SECRET_KEY``) keeps a stranger
from filing reports against any grid by counting codes; it never changes while the secret stays.

A report is an ordinary case (source ``resident``) located to its grid, plus a ``ResidentTicket`` with the secret
token of the tracking link, a short tracking code, the call-back phone (personal data) and, after closure, the
resident's verdict.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..geo.locate import GridLocator
from ..i18n import place_name
from ..masking import mask_name, mask_phone, mask_text
from ..models import (Case, CasePhoto, CaseSource, CaseState, Category, Community, Grid, ResidentTicket, Worker,
                      WorkerGrid)
from ..timeutil import iso, utcnow
from .cases import CaseError, CaseReport, _emit, _log, report_case

# The residents' short list (keys; texts ``r.cat.<key>`` in both languages) → the center's category, by code first
# and by name when another street numbers its categories differently; the operator confirms it in triage.
RESIDENT_CATEGORIES: dict[str, tuple[str, str]] = {
    "garbage": ("0101", "暴露垃圾"),          # 垃圾、环境卫生
    "clutter": ("0102", "乱堆物料"),          # 乱堆乱放、占道
    "parking": ("0106", "乱停乱放"),          # 乱停车
    "fire_safety": ("0401", "消防通道堵塞"),  # 消防通道、楼道充电、燃气
    "facility": ("0802", "路灯损坏"),         # 路灯、井盖、设施损坏
    "road": ("0105", "道路破损"),
    "water_heating": ("0603", "供水供暖问题"),
    "noise": ("0604", "噪音扰民"),
    "dispute": ("0201", "邻里纠纷"),          # 邻里、物业
    "elderly": ("0503", "独居老人关爱"),      # 老人、困难群众需要帮助
    "other": ("0605", "政策咨询"),            # 其他、咨询建议
}
LINK_CHECK_LEN = 10  # hex characters of the grid link's HMAC: 40 bits, not worth guessing against a rate limit
_LINK_RE = re.compile(r"^(?P<code>[0-9A-Za-z_-]{1,32})\.(?P<check>[0-9a-f]{%d})$" % LINK_CHECK_LEN)


def grid_link_param(secret: str, grid_code: str) -> str:
    """The ``g=`` value of a grid's QR link: its code and a check only this server can make."""
    check = hmac.new(secret.encode(), b"r-grid:" + grid_code.encode(), hashlib.sha256).hexdigest()
    return f"{grid_code}.{check[:LINK_CHECK_LEN]}"


def grid_code_of(secret: str, param: str | None) -> str | None:
    """The grid code a QR link's ``g=`` names, or None when it is malformed or its check is wrong."""
    m = _LINK_RE.match((param or "").strip())
    if m is None:
        return None
    return m["code"] if hmac.compare_digest(grid_link_param(secret, m["code"]), m.group(0)) else None


@dataclass(frozen=True)
class GridPage:
    """What the residents' page shows of its grid (nothing private: the worker's name and number masked)."""

    grid_id: int
    code: str
    name: str
    community: str
    community_id: int
    worker: str | None      # masked name of the grid's worker
    worker_phone: str | None  # masked public service number (never the personal phone); the button asks for it
    centroid: tuple[float, float]
    boundary: dict[str, Any]


DEMO_CENTER_PHONE = "029-00000000"  # the made-up duty number /m shows in the demo (layouts/mobile.py)


def center_number(settings) -> str:
    """The center's duty number as dialled (GC_CENTER_PHONE; the demo's made-up one when unset in a demo)."""
    return dial(settings.center_phone or (DEMO_CENTER_PHONE if settings.demo and not settings.production else ""))


def dial(number: str) -> str:
    """A number as a ``tel:`` link dials it: its digits and a leading +."""
    return "".join(ch for ch in number if ch.isdigit() or ch == "+")


def grid_worker(session: Session, grid_id: int) -> Worker | None:
    """The grid's own worker: the primary assignment first, else the worker whose home grid it is."""
    w = session.scalar(select(Worker).join(WorkerGrid, WorkerGrid.worker_id == Worker.id).where(
        WorkerGrid.grid_id == grid_id, Worker.active.is_(True)).order_by(WorkerGrid.primary.desc(), Worker.id))
    return w or session.scalar(select(Worker).where(Worker.grid_id == grid_id, Worker.active.is_(True))
                               .order_by(Worker.id))


def grid_page(session: Session, grid_code: str, lang: str | None) -> GridPage | None:
    """The grid a QR link names, as the page shows it in ``lang``; None for an unknown grid."""
    g = session.scalar(select(Grid).where(Grid.code == grid_code))
    if g is None:
        return None
    w = grid_worker(session, g.id)
    return GridPage(grid_id=g.id, code=g.code, name=place_name(g.name, lang) or g.name,
                    community=place_name(g.community.name, lang) or g.community.name, community_id=g.community_id,
                    worker=mask_name(w.name) if w else None,
                    worker_phone=mask_phone(w.service_phone) if w and w.service_phone else None,
                    centroid=(g.centroid_lat, g.centroid_lon), boundary=g.boundary)


# ---- reports ------------------------------------------------------------------------------------------------------

MAX_DESCRIPTION = 1000
MAX_PHOTOS = 3
MAX_COMMENT = 500
CHALLENGE_TTL_S = 600
CHALLENGE_WINDOW = timedelta(hours=1)  # reports from one address counted over this long for the challenge
SATISFACTION = ("satisfied", "basic", "unsatisfied")
SATISFACTION_NOTE = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}  # the case timeline's words
_PHONE_RE = re.compile(r"^\+?[0-9]{7,15}$")
_CN_MOBILE_RE = re.compile(r"(?:\+?(?:00)?86|0+)?(1[3-9][0-9]{9})")
_CN_LANDLINE_RE = re.compile(r"\+?(?:00)?860?([1-9][0-9]{8,10})")
_TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone


class ResidentError(ValueError):
    """A refused resident request: ``status`` and the ``field`` it names (HTTP 4xx)."""

    def __init__(self, status: int, field: str, message: str, **extra: Any) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.field, self.message, self.extra = status, field, message, extra


def normalise_phone(raw: str | None) -> str | None:
    """A call-back number as digits (an optional leading +), or None when none was given; else ResidentError."""
    if raw is None or not str(raw).strip():
        return None
    v = re.sub(r"[ \u3000\-()（）]", "", str(raw).strip())
    if not _PHONE_RE.fullmatch(v):
        raise ResidentError(422, "phone", "a phone number is 7–15 digits (a leading + allowed)")
    # one number, one spelling: +86 / 0086 / 86 / a trunk 0 before a mobile, and China's code before a landline,
    # were each a fresh per-phone budget (and a differently masked number) — keep the number as dialled at home
    if m := _CN_MOBILE_RE.fullmatch(v):
        return m[1]
    if m := _CN_LANDLINE_RE.fullmatch(v):
        return "0" + m[1]
    return v


def keyed_hash(secret: str, kind: str, value: str) -> str:
    """A keyed hash of an address or number: counted for abuse limits, never readable back."""
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def new_tracking_code() -> str:
    """A short code a resident can read out on the phone: R + 8 characters (32^8 ≈ 10^12)."""
    return "R" + "".join(secrets.choice(_TRACKING_ALPHABET) for _ in range(8))


def center_category(session: Session, key: str) -> str:
    """The center's category for a resident's pick: by code, else by name, else the text's best guess."""
    code, name = RESIDENT_CATEGORIES[key]
    hit = session.scalar(select(Category.code).where(Category.code == code, Category.name == name,
                                                     Category.active.is_(True)))
    hit = hit or session.scalar(select(Category.code).where(Category.name == name, Category.active.is_(True)))
    hit = hit or session.scalar(select(Category.code).where(Category.code == code, Category.active.is_(True)))
    if hit is None:
        from .triage import guess_category

        hit = guess_category(session, name) or session.scalar(
            select(Category.code).where(Category.active.is_(True)).order_by(Category.code))
    if hit is None:
        raise ResidentError(422, "category", "no category is active on this server")
    return hit


# ---- the challenge after repeated reports from one address --------------------------------------------------------

def _challenge_sig(secret: str, a: int, b: int, expires: int, address_hash: str, key: str) -> str:
    msg = f"{a}+{b}|{expires}|{address_hash}|{key}".encode()
    return hmac.new(secret.encode(), b"r-challenge:" + msg, hashlib.sha256).hexdigest()[:32]


def issue_challenge(secret: str, address_hash: str, key: str, now_s: float) -> dict[str, str]:
    """A small sum for a person to work out, signed for this address and this report's idempotency key (a solved
    one admits one report, not a flood) and valid for ten minutes; the server keeps nothing."""
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    expires = int(now_s) + CHALLENGE_TTL_S
    return {"question": f"{a} + {b}", "token": f"{a}.{b}.{expires}.{_challenge_sig(secret, a, b, expires, address_hash, key)}"}


def challenge_passed(secret: str, token: str | None, answer: str | None, address_hash: str, key: str,
                     now_s: float) -> bool:
    """Whether ``answer`` solves the challenge ``token`` issued to this address for this report, in time."""
    parts = (token or "").split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(parts[0]) > 1 or len(parts[1]) > 1:
        return False
    a, b, expires = int(parts[0]), int(parts[1]), int(parts[2][:12])
    if expires < now_s or not hmac.compare_digest(parts[3], _challenge_sig(secret, a, b, expires, address_hash, key)):
        return False
    return (answer or "").strip() == str(a + b)


def recent_reports_from(session: Session, address_hash: str, since: datetime) -> int:
    """How many resident reports came from this address since ``since``."""
    return session.scalar(select(func.count()).select_from(ResidentTicket).where(
        ResidentTicket.address_hash == address_hash, ResidentTicket.created_at >= since)) or 0


@dataclass
class ResidentReport:
    """A validated report from /r as it enters the domain."""

    grid_code: str
    category: str
    description: str
    lat: float
    lon: float
    phone: str | None
    idempotency_key: str | None
    address_hash: str | None


def ticket_by_key(session: Session, key: str) -> ResidentTicket | None:
    """The ticket an earlier request with this idempotency key made, if any."""
    case_id = session.scalar(select(Case.id).where(Case.idempotency_key == key))
    return session.scalar(select(ResidentTicket).where(ResidentTicket.case_id == case_id)) if case_id else None


def report(session: Session, r: ResidentReport, *, locator: GridLocator | None,
           now: datetime | None = None) -> tuple[Case, ResidentTicket, bool]:
    """File a resident's report: a case (source "resident", located to its grid, category to be confirmed in triage)
    and its ticket. Returns (case, ticket, created); a repeated idempotency key returns the first ones."""
    now = now or utcnow()
    if r.idempotency_key and (t := ticket_by_key(session, r.idempotency_key)) is not None:
        return session.get(Case, t.case_id), t, False  # type: ignore[return-value]
    qr_grid = session.scalar(select(Grid).where(Grid.code == r.grid_code))
    if qr_grid is None:
        raise ResidentError(422, "g", "this QR code's grid no longer exists")
    category = center_category(session, r.category)
    report_in = CaseReport(category_code=category, description=r.description, lat=r.lat, lon=r.lon,
                           source=CaseSource.RESIDENT, reporter_name=None, reporter_phone=r.phone,
                           idempotency_key=r.idempotency_key,
                           attributes={"category_unconfirmed": True, "resident_category": r.category,
                                       "qr_grid_id": qr_grid.id},
                           note=r.description[:200])
    try:
        c, created = report_case(session, report_in, locator=locator, now=now, actor="居民")
    except CaseError as e:
        raise ResidentError(422, e.field, e.message) from None
    if not created:  # a twin with the same key got there first
        t = session.scalar(select(ResidentTicket).where(ResidentTicket.case_id == c.id))
        if t is not None:
            return c, t, False
    t = ResidentTicket(case_id=c.id, token=secrets.token_urlsafe(32), tracking_code=new_tracking_code(),
                       grid_id=qr_grid.id, community_id=qr_grid.community_id, resident_category=r.category,
                       phone=r.phone, address_hash=r.address_hash, created_at=now, satisfaction_comment="")
    session.add(t)
    session.flush()
    return c, t, True


# ---- following a report -------------------------------------------------------------------------------------------

STEP_OF_STATE = {
    CaseState.REPORTED: "received", CaseState.REGISTERED: "received", CaseState.DISPATCHED: "dispatched",
    CaseState.HANDLING: "handling", CaseState.FEEDBACK: "handling", CaseState.CLOSED: "closed",
    CaseState.VOID: "void",
}


def ticket_by_token(session: Session, token: str) -> ResidentTicket | None:
    """The ticket of a tracking link; None for an unknown or malformed token."""
    if not token or len(token) > 64 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    return session.scalar(select(ResidentTicket).where(ResidentTicket.token == token))


def followed_case(session: Session, t: ResidentTicket) -> Case:
    """The case the resident's report lives on: the one it was merged into, when the center merged duplicates."""
    c = session.get(Case, t.case_id)
    seen = set()
    while c is not None and c.merged_into_id and c.merged_into_id not in seen:
        seen.add(c.id)
        nxt = session.get(Case, c.merged_into_id)
        if nxt is None:
            break
        c = nxt
    assert c is not None
    return c


def _reply(c: Case) -> str | None:
    """The center's reply: the closing note (核查结案), else the worker's feedback note, else a void's reason."""
    for action in (("approve",), ("feedback", "onsite"), ("void",)):
        notes = [e.note for e in c.timeline if e.action in action and (e.note or "").strip()]
        if notes:
            return notes[-1]
    return None


def can_rate(c: Case, t: ResidentTicket) -> bool:
    """A resident answers once per closure: after the case is closed, and again only after it was closed anew."""
    if c.state != CaseState.CLOSED or c.closed_at is None:
        return False
    return t.satisfaction_at is None or t.satisfaction_at < c.closed_at


def tracking_view(session: Session, t: ResidentTicket, *, secret: str, known=None) -> dict[str, Any]:
    """What the tracking link shows: steps in plain words with their times, the reply (masked), the after-photos
    (URLs only this link can load), and whether the resident may answer now. Nothing about people."""
    from .name_index import known_names

    c = followed_case(session, t)
    acted = {e.action: e.at for e in reversed(c.timeline)}  # the first time of each action
    steps = {"received": iso(c.registered_at or c.created_at), "dispatched": iso(c.dispatched_at),
             "handling": iso(acted.get("acknowledge") or acted.get("handle") or c.feedback_at),
             "closed": iso(c.closed_at)}
    worker_names = [w for (w,) in session.execute(select(Worker.name).where(Worker.id.in_(
        [i for i in (c.assigned_worker_id, c.reporter_worker_id) if i])))] if c.assigned_worker_id else []
    reply = _reply(c)
    qr = session.get(Grid, t.grid_id) if t.grid_id else None
    return {
        "tracking_code": t.tracking_code, "category": t.resident_category, "state": c.state,
        "step": STEP_OF_STATE.get(CaseState(c.state), "received"), "steps": steps,
        "created_at": iso(t.created_at), "reply": mask_text(reply, worker_names, known or known_names(c))
        if reply else None,
        "after_photos": [f"/api/v1/r/tickets/{t.token}/photos/{p.id}" for p in c.photos if p.stage == "after"],
        "can_rate": can_rate(c, t), "satisfaction": t.satisfaction, "satisfaction_at": iso(t.satisfaction_at),
        "reopened": t.reworked, "g": grid_link_param(secret, qr.code) if qr else None,
    }


def after_photo(session: Session, t: ResidentTicket, photo_id: int) -> CasePhoto | None:
    """An after-photo of the ticket's case (or of the case it was merged into); None for anything else."""
    c = followed_case(session, t)
    p = session.get(CasePhoto, photo_id)
    return p if p is not None and p.case_id == c.id and p.stage == "after" else None


# ---- the resident's verdict ---------------------------------------------------------------------------------------

def rate(session: Session, t: ResidentTicket, value: str, comment: str, *, now: datetime | None = None) -> bool:
    """Record 满意 / 基本满意 / 不满意 after closure. 不满意 with a comment sends the case back to the center's check
    queue (反馈 → 核查) as rework, once; a later 不满意 is recorded but reopens nothing. Returns whether it reopened."""
    now = now or utcnow()
    if value not in SATISFACTION:
        raise ResidentError(422, "value", f"value must be one of {', '.join(SATISFACTION)}")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ResidentError(422, "comment", f"comment may be at most {MAX_COMMENT} characters")
    if "\x00" in comment:  # PostgreSQL refuses a NUL in text: a 422 here, not a 500 at the commit
        raise ResidentError(422, "comment", "comment may not contain a NUL character")
    if value == "unsatisfied" and not comment:
        raise ResidentError(422, "comment", "say what was not done well (a comment is required with unsatisfied)")
    c = followed_case(session, t)
    if c.state != CaseState.CLOSED:
        raise ResidentError(409, "value", "the report can be rated once it is closed")
    if not can_rate(c, t):
        raise ResidentError(409, "value", "this result has already been rated")
    t.satisfaction, t.satisfaction_comment, t.satisfaction_at = value, comment, now
    # once per case, not per ticket: a duplicate folded into this case brings its own ticket, whose 不满意 would
    # otherwise reopen it again
    reopen = value == "unsatisfied" and not t.reworked and not any(e.action == "resident_reopen" for e in c.timeline)
    _log(c, "resident_rating", "居民", SATISFACTION_NOTE[value] + (f"：{comment}" if comment else ""), c.state, c.state, now,
         {"satisfaction": value})
    if reopen:
        t.reworked = True
        frm = c.state
        c.state, c.closed_at, c.rework_count, c.updated_at = CaseState.FEEDBACK, None, c.rework_count + 1, now
        _log(c, "resident_reopen", "居民", comment, frm, c.state, now)
    session.flush()
    _emit(session, c, "resident_reopen" if reopen else "resident_rating")
    return reopen


def note_first_response(session: Session, c: Case, now: datetime) -> None:
    """The center's first step on a resident's report (registered or dispatched) starts nothing new but is timed:
    ``first_response_at`` is the response time residents see on the leader's screens."""
    session.execute(update(ResidentTicket).where(ResidentTicket.case_id == c.id,
                                                 ResidentTicket.first_response_at.is_(None))
                    .values(first_response_at=now))


def grid_links(session: Session, secret: str, base_url: str) -> list[dict[str, str]]:
    """Every grid's QR link for the compounds' posters: community, grid code and name, and the URL of /r."""
    rows = session.execute(select(Grid.code, Grid.name, Community.name).join(Community, Community.id == Grid.community_id)
                           .order_by(Grid.code)).all()
    base = base_url.rstrip("/")
    return [{"community": comm, "grid_code": code, "grid_name": name,
             "url": f"{base}/r?g={grid_link_param(secret, code)}"} for code, name, comm in rows]
