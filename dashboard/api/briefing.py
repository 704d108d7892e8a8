"""The leader's briefing over HTTP: figures, exports (PDF, Excel, CSV) and the day replay."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from ..i18n import normalise_lang
from ..models import Community, Role
from ..services.briefing_cache import BriefingCache
from ..services.briefing import briefing, case_list
from ..services.exports import briefing_pdf, briefing_xlsx, cases_csv
from ..services.summary import summary_paragraphs
from ..timeutil import local_today
from .audit_edge import name_target
from .deps import services
from .auth import require
from ..principal import resolve_principal
from .errors import ApiError

ROLES = (Role.LEADER, Role.DISPATCHER, Role.DISPLAY)
# who reads a day's tracks: the briefing's leaders and the console; a wall never asks (it shows the live day)
REPLAY_ROLES = (Role.LEADER, Role.DISPATCHER)
MIME = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def parse_day(raw: str | None) -> date:
    """``YYYY-MM-DD`` or empty (today in Asia/Shanghai); anything else is a 400 naming ``day``."""
    if not raw:
        return local_today()
    try:
        d = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"day must be YYYY-MM-DD, got {raw!r}", "day")
    if d.year < 2000 or d > local_today().replace(year=local_today().year + 1):
        raise ApiError(400, f"day {raw} is out of range", "day")
    return d


def parse_scope(services, raw: str | None) -> int | None:
    """The community id asked for (checked against the caller's jurisdiction), or None for the street."""
    p = resolve_principal(services)
    cid: int | None = None
    if raw not in (None, "", "street"):
        if not str(raw).isdigit():
            raise ApiError(400, f"community must be a community id, got {raw!r}", "community")
        cid = int(raw)
        with services.db.read() as s:
            if s.scalar(select(Community.id).where(Community.id == cid)) is None:
                raise ApiError(404, f"no community {cid}", "community")
    if p is not None and p.community_id is not None:
        if cid is not None and cid != p.community_id:
            raise ApiError(403, "outside your jurisdiction", "community")
        cid = p.community_id
    return cid
bp = Blueprint("briefing", __name__)


@bp.get("/api/v1/briefing")
@require(*ROLES)
def get_briefing():
    """Every figure of the day's briefing and its written summary."""
    day, cid = parse_day(request.args.get("day")), parse_scope(services(), request.args.get("community"))
    lang = normalise_lang(request.args.get("lang"))
    b = _figures(day, cid)
    b["summary"] = summary_paragraphs(b, lang)
    return jsonify(b)


@bp.get("/api/v1/briefing/export.<fmt>")
@require(*ROLES)
def export_briefing(fmt: str):
    """The brief as PDF or Excel, or the day's case list as CSV (downloads)."""
    if fmt not in MIME:
        raise ApiError(404, f"no export format {fmt!r}; one of pdf, xlsx, csv", "format")
    day, cid = parse_day(request.args.get("day")), parse_scope(services(), request.args.get("community"))
    lang = normalise_lang(request.args.get("lang"))
    with services().db.read() as s:
        cases = case_list(s, day=day, community_id=cid)
        b = None if fmt == "csv" else briefing(s, day=day, community_id=cid, calendar=services().calendar)
    if b is None:
        data = cases_csv(cases, lang)
    elif fmt == "pdf":
        data = briefing_pdf(b, lang)
    else:
        data = briefing_xlsx(b, cases, lang)
    name = f"{'cases' if fmt == 'csv' else 'briefing'}-{day.isoformat()}{'-c' + str(cid) if cid else ''}.{fmt}"
    return Response(data, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                       "Cache-Control": "no-store"})


@bp.get("/api/v1/replay")
@require(*REPLAY_ROLES)
def get_replay():
    """The day replay: case steps by minute, events to jump to, worker tracks (kept per day and scope)."""
    day, cid = parse_day(request.args.get("day")), parse_scope(services(), request.args.get("community"))
    name_target(f"replay:{day.isoformat()}")  # the audit row (replay_view) names the day, as the page's does
    return jsonify(services().replays.get(services().db.read, day=day, community_id=cid))


def _figures(day: date, community_id: int | None) -> dict:
    """The day's figures through this app's cache of past days."""
    cache: BriefingCache = current_app.extensions["gc_briefing_cache"]
    with services().db.read() as s:
        return cache.get(s, day=day, community_id=community_id, calendar=services().calendar)


def register(app, services) -> None:
    app.register_blueprint(bp)
    # past days only; dropped on any late edit (services/briefing_cache.py); one per app, not per module
    app.extensions["gc_briefing_cache"] = BriefingCache()
