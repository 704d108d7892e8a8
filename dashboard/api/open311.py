"""Open311 GeoReport v2 at /open311/v2/ — JSON and XML, the spec's errors and status codes.

Reading is public, as the spec has it (no personal data is ever served; only reports that came in
publicly — Open311, residents — are listed, at an approximate location, see services/open311.py); creating a
request needs an ``api_key`` (an API key with role integration or admin). A request
becomes a case with source "open311" in state reported: it enters triage like an
escalated field report.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from flask import Blueprint, Response, request
from sqlalchemy import select

from ..models import Case, CaseState, Category, Grid, Role
from ..services import open311 as o311
from ..services.cases import CaseError, CaseReport, report_case
from ..timeutil import utcnow
from .audit_edge import act_as
from .deps import services
from ..principal import Principal, in_scope, known_key
from .openapi import OPEN311_ERRORS, registry

BASE = "/open311/v2"
ATTR_RE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
MAX_SPAN, MAX_ROWS = timedelta(days=90), 1000
OPEN = [s.value for s in CaseState if s.is_open]


class Open311Error(Exception):
    """Answered as the spec's error list; ``status`` 400, 403 or 404."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(descriptions[0])
        self.status, self.descriptions = status, descriptions


def render(fmt: str, root: str, value, status: int = 200) -> Response:
    if fmt == "json":
        return Response(json.dumps(value, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")
    return Response(o311.to_xml(root, value), status=status, content_type="text/xml; charset=utf-8")


def _arg(name: str) -> str | None:
    """An optional argument: empty counts as absent (spec A.1); characters XML cannot carry are dropped."""
    v = o311.xml_safe(request.values.get(name))
    return v.strip() if v and v.strip() else None


def _when(name: str) -> datetime | None:
    raw = _arg(name)
    if raw is None:
        return None
    try:
        v = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time such as 2026-01-05T09:00:00+08:00")
    if v.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or +08:00)")
    return v


def _float(name: str, lo: float, hi: float) -> float:
    try:
        v = float(request.form[name])
    except ValueError:
        raise Open311Error(400, f"{name} must be a decimal number")
    if not lo <= v <= hi:
        raise Open311Error(400, f"{name} must be between {lo:g} and {hi:g}")
    return v


bp = Blueprint("open311", __name__)


def check_jurisdiction() -> None:
    j = _arg("jurisdiction_id")
    if j is not None and j != services().settings.open311_jurisdiction:
        raise Open311Error(404, f"jurisdiction_id {j} not found")


def fmt_of(fmt: str) -> str:
    if fmt not in ("xml", "json"):
        raise Open311Error(400, f"format .{fmt} not supported; use .xml or .json")
    return fmt


@bp.app_errorhandler(Open311Error)
def _o311_error(e: Open311Error):
    fmt = "json" if request.path.endswith(".json") else "xml"
    return render(fmt, "errors", [{"code": e.status, "description": d} for d in e.descriptions], e.status)


@bp.get(f"{BASE}/discovery.<fmt>")
def discovery(fmt: str):
    fmt = fmt_of(fmt)
    st = services().settings
    return render(fmt, "discovery", {
        "changeset": st.open311_changeset, "contact": st.open311_agency,
        "key_service": "API keys: ask the centre's administrator (run.py create-api-key --role integration)",
        "endpoints": [{"specification": o311.SPEC, "url": request.host_url.rstrip("/") + BASE,
                       "changeset": st.open311_changeset, "type": "production" if st.production else "test",
                       "formats": ["text/xml", "application/json"]}]})


@bp.get(f"{BASE}/services.<fmt>")
def services_list(fmt: str):
    fmt = fmt_of(fmt)
    check_jurisdiction()
    with services().db.read() as s:
        cats = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
        return render(fmt, "services", [o311.service_public(c) for c in cats])


@bp.get(f"{BASE}/services/<service_code>.<fmt>")
def service_definition(service_code: str, fmt: str):
    fmt = fmt_of(fmt)
    check_jurisdiction()
    with services().db.read() as s:
        cat = s.get(Category, service_code)
        if cat is None or not cat.active:
            raise Open311Error(404, f"service_code {service_code} not found")
        return render(fmt, "service_definition", o311.definition_public(cat))


@bp.post(f"{BASE}/requests.<fmt>")
def create_request(fmt: str):
    fmt = fmt_of(fmt)
    key = known_key(services(), _arg("api_key"))  # read; its last use written at most once a minute
    if key is None or key.role not in (Role.INTEGRATION, Role.ADMIN):
        raise Open311Error(403, "Invalid api_key received")
    act_as(Principal(name=key.name, role=key.role, community_id=key.community_id, via="api_key",
                     key_id=key.id))  # the audit row (open311_create) names this key and rides in the report
    check_jurisdiction()
    code = _arg("service_code")
    if code is None:
        raise Open311Error(400, "service_code is required")
    has = {n: _arg(n) is not None for n in ("lat", "long", "address_string", "address_id")}
    if has["lat"] != has["long"]:
        raise Open311Error(400, "give both lat and long, or neither")
    if not (has["lat"] or has["address_string"] or has["address_id"]):
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    lat = _float("lat", -90, 90) if has["lat"] else None
    lon = _float("long", -180, 180) if has["long"] else None
    description = o311.xml_safe(request.form.get("description", "")) or ""
    if len(description) > 4000:
        raise Open311Error(400, "description may be at most 4000 characters")
    if problem := o311.media_url_problem(_arg("media_url")):
        raise Open311Error(400, problem)
    given: dict[str, list[str]] = {}
    for k in request.form:
        m = ATTR_RE.match(k)
        if m:
            given.setdefault(m.group(1), []).extend(o311.xml_safe(v) or "" for v in request.form.getlist(k))
        elif k.startswith("attribute"):
            raise Open311Error(400, f"malformed attribute key {k!r}; use attribute[CODE] or attribute[CODE][]")
    name = " ".join(x for x in (_arg("last_name"), _arg("first_name")) if x) or None
    with services().db.write() as s:
        cat = s.get(Category, code)
        if cat is None or not cat.active:
            raise Open311Error(404, f"service_code {code} not found")
        attrs, problems = o311.check_attributes(cat, given)
        if problems:
            raise Open311Error(400, *problems)
        report = CaseReport(
            category_code=code, description=description.strip(), lat=lat, lon=lon,
            address=(_arg("address_string") or "")[:256], source="open311", reporter_name=name,
            reporter_phone=_arg("phone"), reporter_email=_arg("email"), media_url=_arg("media_url"),
            attributes={"open311": attrs, "address_id": _arg("address_id"), "device_id": _arg("device_id"),
                        "account_id": _arg("account_id"), "api_key": key.name})
        try:
            c, _ = report_case(s, report, locator=services().locator, actor=f"Open311 ({key.name})")
        except CaseError as exc:
            raise Open311Error(400, f"{exc.field}: {exc.message}")
        if not in_scope(key, c.community_id):  # raising here rolls the report back: nothing is written
            raise Open311Error(403, "lat/long: the location lies in another community, outside this api_key's "
                                    "jurisdiction")
        out = [{"service_request_id": c.code, "service_notice": "已受理，将在处置时限内派遣处理",
                "account_id": _arg("account_id")}]
    return render(fmt, "service_requests", out)


def _requests(fmt: str, ids: list[str] | None):
    extensions = (_arg("extensions") or "").lower() == "true"
    with services().db.read() as s:
        q = select(Case).where(Case.source.in_(o311.PUBLIC_SOURCES))  # the public feed: public reports only
        if ids is None:
            q = q.where(Case.merged_into_id.is_(None))
        if ids is not None:
            q = q.where(Case.code.in_(ids))
        else:
            start, end = _when("start_date"), _when("end_date")
            if start and end and end < start:
                raise Open311Error(400, "end_date is before start_date")
            if start and end and end - start > MAX_SPAN:
                raise Open311Error(400, "start_date to end_date may span at most 90 days")
            end = end or ((start + MAX_SPAN) if start else utcnow())
            start = start or (end - MAX_SPAN)
            q = q.where(Case.created_at >= start, Case.created_at <= end)
            if codes := [c for c in (_arg("service_code") or "").split(",") if c]:
                q = q.where(Case.category_code.in_(codes))
            if status := {x.strip() for x in (_arg("status") or "").split(",") if x.strip()}:
                if not status <= {"open", "closed"}:
                    raise Open311Error(400, "status must be open, closed or both")
                if status == {"open"}:
                    q = q.where(Case.state.in_(OPEN))
                elif status == {"closed"}:
                    q = q.where(Case.state.not_in(OPEN))
        page = _int("page", 1, 1, 10**6)
        size = _int("page_size", MAX_ROWS, 1, MAX_ROWS)
        rows = s.scalars(q.order_by(Case.created_at.desc(), Case.id.desc()).offset((page - 1) * size)
                         .limit(size)).all()
        gids = {c.grid_id for c in rows if c.grid_id}
        grids = dict(s.execute(select(Grid.id, Grid.code).where(Grid.id.in_(gids))).all()) if gids else {}
        agency = services().settings.open311_agency
        return [o311.request_public(c, grid_code=grids.get(c.grid_id) if c.grid_id else None, extensions=extensions,
                                    agency=agency) for c in rows]


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = _arg(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Open311Error(400, f"{name} must be an integer from {lo} to {hi}")
    return int(raw)


@bp.get(f"{BASE}/requests.<fmt>")
def list_requests(fmt: str):
    fmt = fmt_of(fmt)
    check_jurisdiction()
    ids = [x.strip() for x in (_arg("service_request_id") or "").split(",") if x.strip()] or None
    return render(fmt, "service_requests", _requests(fmt, ids))


@bp.get(f"{BASE}/requests/<service_request_id>.<fmt>")
def one_request(service_request_id: str, fmt: str):
    fmt = fmt_of(fmt)
    check_jurisdiction()
    found = _requests(fmt, [service_request_id])
    if not found:
        raise Open311Error(404, f"service_request_id {service_request_id} not found")
    return render(fmt, "service_requests", found)


@bp.get(f"{BASE}/tokens/<token_id>.<fmt>")
def token(token_id: str, fmt: str):
    fmt = fmt_of(fmt)
    check_jurisdiction()
    raise Open311Error(404, f"token {token_id} not found (every service here is realtime)")


@bp.route(f"{BASE}/", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route(f"{BASE}/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str):
    raise Open311Error(404, f"no such resource: {BASE}/{rest}")


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    fmt = [{"name": "fmt", "in": "path", "required": True, "schema": {"type": "string", "enum": ["json", "xml"]}}]
    for path, method, summary in [
        ("discovery.{fmt}", "get", "Open311 service discovery"), ("services.{fmt}", "get", "Service list"),
        ("services/{service_code}.{fmt}", "get", "Service definition"),
        ("requests.{fmt}", "post", "Create a service request (api_key in the form body)"),
        ("requests.{fmt}", "get", "Query service requests (90 days / 1000 max; page, page_size, extensions)"),
        ("requests/{service_request_id}.{fmt}", "get", "One service request"),
        ("tokens/{token_id}.{fmt}", "get", "Resolve a token (always 404: every service is realtime)")]:
        api.add(f"{BASE}/{path}", method, summary=summary, tags=["open311"], params=fmt, security=False,
                error_schema=OPEN311_ERRORS,
                description="GeoReport v2 (http://wiki.open311.org/GeoReport_v2). Errors are a list of "
                            "{code, description}: 400, 403 (api_key; a community's key reporting a point in "
                            "another community), 404.")
