"""网格+五治: governance activities (create, import with row-level errors), the indicators
(see governance_indicators.INDICATORS) and the briefing section."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, Mapping

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import events
from ..i18n import place_name
from ..models import Alert, Case, Grid, Organisation, Place
from ..models.governance import GovernanceActivity, LegalStaff
from ..timeutil import SHANGHAI, as_utc, iso, local, local_day_bounds, utcnow
from ..masking import mask_text
from .governance_indicators import DIMENSIONS, compute_indicators, compute_levels
from .name_index import known_names

# kind → (dimension, zh, en)
ACTIVITY_KINDS: dict[str, tuple[str, str, str]] = {
    "party_meeting": ("party", "主题党日/组织生活", "Party meeting"),
    "party_service": ("party", "党员报到服务", "Party-member service"),
    "sanguan_visit": ("law", "三官一律进网格", "Judge/prosecutor/police/lawyer visit"),
    "moot_court": ("law", "模拟法庭", "Moot court"),
    "legal_education": ("law", "普法宣传", "Legal education"),
    "civility_practice": ("virtue", "新时代文明实践", "Civility practice"),
    "org_service": ("virtue", "社会组织服务", "Social-organisation service"),
    "volunteer_service": ("virtue", "志愿服务", "Volunteer service"),
    "residents_council": ("self", "居民议事会", "Residents' council"),
    "mediation": ("self", "矛盾调解", "Mediation"),
}
ACTIVITY_COLUMNS = ["kind", "title", "grid_code", "started_at"]
OPTIONAL_COLUMNS = ["code", "ended_at", "place_code", "place_name", "organiser", "org_code", "legal_staff_code",
                    "participants", "volunteers", "volunteer_hours", "case_code", "note"]


class ActivityProblem(ValueError):
    """Bad activity input; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class ActivityOutside(ActivityProblem):
    """An activity in a grid outside the caller's community (a 403 at the API, not a 400)."""


@dataclass
class ImportResult:
    created: int
    errors: list[dict[str, Any]]
    outside: bool = False  # some row's grid lies outside the caller's community


def parse_local_time(value: Any, field: str) -> datetime:
    """An ISO time with offset, or a naive 'YYYY-MM-DD HH:MM' taken as Asia/Shanghai; returns UTC."""
    if isinstance(value, datetime):
        return as_utc(value if value.tzinfo else value.replace(tzinfo=SHANGHAI))
    text = str(value or "").strip()
    if not text:
        raise ActivityProblem(field, f"{field} is required")
    try:
        ts = pd.Timestamp(text.replace("/", "-"))
    except (ValueError, TypeError):
        raise ActivityProblem(field, f"{field} is not a date/time: {text!r}")
    dt = ts.to_pydatetime()
    return as_utc(dt) if dt.tzinfo else as_utc(dt.replace(tzinfo=SHANGHAI))


def _int(value: Any, field: str, hi: int) -> int:
    if value in (None, ""):
        return 0
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ActivityProblem(field, f"{field} must be a whole number, got {value!r}")
    if f != int(f) or not 0 <= f <= hi:
        raise ActivityProblem(field, f"{field} must be a whole number from 0 to {hi}")
    return int(f)


ActivityKind = Literal[tuple(ACTIVITY_KINDS)]  # type: ignore[valid-type]


def _text(v: Any) -> str:
    return str(v or "").strip()


class ActivityIn(BaseModel):
    """One governance activity, as JSON (POST /api/v1/governance/activities) or a row of an imported table:
    the shape of each field; its codes (grid, place, case …) are resolved against the database afterwards."""

    model_config = ConfigDict(extra="ignore")

    kind: ActivityKind = Field(  # type: ignore[valid-type]
        description="the activity's kind (its 五治 dimension follows from it)")
    title: str = Field(json_schema_extra={"minLength": 1, "maxLength": 128})
    grid_id: int | None = Field(default=None, description="instead of grid_code")
    grid_code: str = Field(default="", description="the grid's code (or give grid_id)")
    started_at: datetime = Field(description="ISO 8601 with offset, or 'YYYY-MM-DD HH:MM' Asia/Shanghai")
    ended_at: datetime | None = Field(default=None, description="as started_at; not before it")
    participants: int = Field(default=0, ge=0, le=100_000)
    volunteers: int = Field(default=0, ge=0, le=10_000)
    volunteer_hours: float = Field(default=0, ge=0, description="at most 24 × volunteers")
    organiser: str = Field(default="", description="kept to 128 characters")
    place_name: str = Field(default="", description="kept to 128 characters")
    note: str = ""
    place_code: str = ""
    org_code: str = ""
    legal_staff_code: str = ""
    case_code: str = ""
    code: str = Field(default="", description="your unique id; generated when absent",
                      json_schema_extra={"maxLength": 40})

    @field_validator("kind", "grid_code", "place_code", "org_code", "legal_staff_code", "case_code", mode="before")
    @classmethod
    def _stripped(cls, v: Any) -> str:
        return _text(v)

    @field_validator("organiser", "place_name", "note", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> str:
        return str(v or "")

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v: Any) -> str:
        title = _text(v)
        if not title or len(title) > 128:
            raise ValueError("title is required (at most 128 characters)")
        return title

    @field_validator("grid_id", mode="before")
    @classmethod
    def _grid_id(cls, v: Any) -> int | None:
        if v in (None, ""):
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise ValueError(f"grid_id must be an integer, got {v!r}")

    @field_validator("started_at", "ended_at", mode="before")
    @classmethod
    def _time(cls, v: Any, info: Any) -> datetime | None:
        if info.field_name == "ended_at" and v in (None, ""):
            return None
        try:
            return parse_local_time(v, info.field_name)
        except ActivityProblem as p:
            raise ValueError(p.message)

    @field_validator("participants", "volunteers", mode="before")
    @classmethod
    def _count(cls, v: Any, info: Any) -> int:
        try:
            return _int(v, info.field_name, 100_000 if info.field_name == "participants" else 10_000)
        except ActivityProblem as p:
            raise ValueError(p.message)

    @field_validator("volunteer_hours", mode="before")
    @classmethod
    def _hours(cls, v: Any) -> float:
        try:
            return float(v or 0)
        except (TypeError, ValueError):
            raise ValueError(f"volunteer_hours must be a number, got {v!r}")

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: Any) -> str:
        code = _text(v)
        if len(code) > 40:
            raise ValueError("code is too long (at most 40 characters)")
        return code


def parse_activity(data: Mapping[str, Any]) -> ActivityIn:
    """``data`` through ActivityIn; the first problem an ActivityProblem naming its field (the import's row
    error, the API's 400)."""
    try:
        return ActivityIn.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "body"
        msg = err["msg"].removeprefix("Value error, ")
        raise ActivityProblem(field, msg if err["type"] == "value_error" else f"{field}: {msg}")


class Lookups:
    """Code → id maps for one batch of activities (one query each, not one per row).

    With ``community_id`` (a community-bound caller) places, legal staff, organisations and cases of other
    communities are left out, so naming one reads as an unknown code; grids stay, so that naming another
    community's grid is refused as outside (ActivityOutside) rather than unknown.
    """

    def __init__(self, session: Session, community_id: int | None = None) -> None:
        self.community_id = community_id
        self.grids = {c: (i, cm) for c, i, cm in session.execute(select(Grid.code, Grid.id, Grid.community_id))}
        self.grid_ids = {i: cm for i, cm in self.grids.values()}
        own = select(Grid.id).where(Grid.community_id == community_id)
        places, staff = select(Place.code, Place.id), select(LegalStaff.code, LegalStaff.id)
        orgs = select(Organisation.code, Organisation.id)
        if community_id is not None:
            places, staff = places.where(Place.grid_id.in_(own)), staff.where(LegalStaff.grid_id.in_(own))
            orgs = orgs.where((Organisation.community_id == community_id) | (
                Organisation.community_id.is_(None) & (Organisation.grid_id.is_(None) | Organisation.grid_id.in_(own))))
        self.places = dict(session.execute(places).all())
        self.orgs = dict(session.execute(orgs).all())
        self.staff = dict(session.execute(staff).all())
        self.codes: set[str] = set()  # activity codes known to be taken (prefetched or added in this batch)
        self.checked: set[str] = set()
        self.cases: dict[str, int] = {}

    def prefetch_cases(self, session: Session, codes) -> None:
        """Resolve the case codes a batch names, in one query."""
        wanted = sorted({str(c).strip() for c in codes if str(c or "").strip()})
        if wanted:
            q = select(Case.code, Case.id).where(Case.code.in_(wanted))
            if self.community_id is not None:
                q = q.where((Case.community_id == self.community_id) | Case.community_id.is_(None))
            self.cases.update(session.execute(q).all())

    def prefetch_codes(self, session: Session, codes) -> None:
        """Which of these activity codes are already taken, in one query."""
        wanted = sorted({str(c).strip() for c in codes if str(c or "").strip()})
        if wanted:
            self.codes.update(session.scalars(select(GovernanceActivity.code).where(GovernanceActivity.code.in_(wanted))))
            self.checked.update(wanted)

    def code_taken(self, session: Session, code: str) -> bool:
        if code not in self.checked:
            self.prefetch_codes(session, [code])
        return code in self.codes

    def case_id(self, session: Session, code: str) -> int | None:
        if code not in self.cases:
            self.prefetch_cases(session, [code])
        return self.cases.get(code)


def validate_activity(data: Mapping[str, Any], look: Lookups, session: Session, *, now: datetime) -> dict:
    """Check one activity (its shape through ActivityIn) and resolve its codes; raises ActivityProblem naming
    the field."""
    a = parse_activity(data)
    grid_id = a.grid_id
    if grid_id is not None:
        if grid_id not in look.grid_ids:
            raise ActivityProblem("grid_id", f"grid {grid_id} does not exist")
        community_id = look.grid_ids[grid_id]
    else:
        if a.grid_code not in look.grids:
            raise ActivityProblem("grid_code", f"grid_code {a.grid_code!r} is not a known grid")
        grid_id, community_id = look.grids[a.grid_code]
    if look.community_id is not None and community_id != look.community_id:
        field = "grid_id" if a.grid_id is not None else "grid_code"
        raise ActivityOutside(field, f"grid {data.get(field)} is outside your community")
    started, ended = a.started_at, a.ended_at
    if started > now + timedelta(days=1):
        raise ActivityProblem("started_at", "started_at is more than a day in the future")
    if ended is not None and ended < started:
        raise ActivityProblem("ended_at", "ended_at is before started_at")
    hours, volunteers = a.volunteer_hours, a.volunteers
    if not 0 <= hours <= 24 * max(volunteers, 1):
        raise ActivityProblem("volunteer_hours", "volunteer_hours must be between 0 and 24 × volunteers")
    out = dict(kind=a.kind, dimension=ACTIVITY_KINDS[a.kind][0], title=a.title, grid_id=grid_id,
               community_id=community_id, started_at=started, ended_at=ended, participants=a.participants,
               volunteers=volunteers, volunteer_hours=hours, organiser=a.organiser[:128],
               place_name=a.place_name[:128], note=a.note)
    for field, table, key in (("place_code", look.places, "place_id"), ("org_code", look.orgs, "organisation_id"),
                              ("legal_staff_code", look.staff, "legal_staff_id")):
        code = getattr(a, field)
        if code and code not in table:
            raise ActivityProblem(field, f"{field} {code!r} is unknown")
        out[key] = table.get(code) if code else None
    case_code = a.case_code
    out["case_id"] = look.case_id(session, case_code) if case_code else None
    if case_code and out["case_id"] is None:
        raise ActivityProblem("case_code", f"case_code {case_code!r} is unknown")
    code = a.code
    if code and look.code_taken(session, code):
        raise ActivityProblem("code", f"code {code!r} already exists")
    out["code"] = code or f"GA{local(now):%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"
    return out


def activity_public(a: GovernanceActivity, lang: str = "zh-CN") -> dict[str, Any]:
    """What screens see of an activity: no personal data is stored on it, but its texts are typed by
    people ("走访张伟家"), so they are masked like any free text."""
    dim, zh, en = ACTIVITY_KINDS.get(a.kind, (a.dimension, a.kind, a.kind))
    known = known_names(a)
    return {"id": a.id, "code": a.code, "kind": a.kind, "kind_name": en if lang == "en" else zh,
            "dimension": a.dimension, "title": mask_text(a.title, (), known),
            "organiser": mask_text(a.organiser, (), known), "grid_id": a.grid_id, "community_id": a.community_id,
            "place_name": mask_text(a.place_name, (), known), "started_at": iso(a.started_at),
            "ended_at": iso(a.ended_at), "participants": a.participants, "volunteers": a.volunteers,
            "volunteer_hours": a.volunteer_hours, "case_id": a.case_id, "source": a.source}


def _add(session: Session, values: dict, *, source: str, created_by: str, now: datetime) -> GovernanceActivity:
    a = GovernanceActivity(**values, source=source, created_by=created_by, created_at=now)
    session.add(a)
    session.flush()
    events.record(session, "activity", {"action": "created", "activity": activity_public(a)},
                  community_id=a.community_id)
    return a


def create_activity(session: Session, data: Mapping[str, Any], *, source: str = "app", created_by: str = "",
                    now: datetime | None = None, community_id: int | None = None) -> GovernanceActivity:
    """Validate and record one activity (raises ActivityProblem, changing nothing); with ``community_id``
    only in that community's grids, naming its own places, staff, organisations and cases."""
    now = now or utcnow()
    values = validate_activity(data, Lookups(session, community_id), session, now=now)
    return _add(session, values, source=source, created_by=created_by, now=now)


def read_activity_table(content: bytes, filename: str) -> pd.DataFrame:
    """A CSV (UTF-8, with or without BOM) or .xlsx upload as strings; raises ActivityProblem (TableTooLarge for a
    table refused for its size)."""
    from .importers import ImportProblem, TableTooLarge, read_table

    try:  # size, zip ratio and header are checked before any row is read (importers.read_table)
        df = read_table(content, filename or "the file", ACTIVITY_COLUMNS)
    except TableTooLarge:
        raise  # the edge answers 413
    except ImportProblem as exc:
        raise ActivityProblem("file", str(exc))
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ACTIVITY_COLUMNS if c not in df.columns]
    if missing:
        raise ActivityProblem("file", f"missing column(s) {', '.join(missing)}")
    return df


def import_activities(session: Session, df: pd.DataFrame, *, source: str = "import", created_by: str = "",
                      now: datetime | None = None, community_id: int | None = None) -> ImportResult:
    """All rows or none: every bad row is reported (line, field, message) and nothing is written; with
    ``community_id`` every row must be of that community (see create_activity)."""
    now = now or utcnow()
    look = Lookups(session, community_id)
    outside = False
    if "case_code" in df.columns:
        look.prefetch_cases(session, df["case_code"])
    if "code" in df.columns:
        look.prefetch_codes(session, df["code"])
    ok, errors = [], []
    for i, row in enumerate(df.to_dict("records")):
        line = i + 2  # the header is line 1
        try:
            values = validate_activity(row, look, session, now=now)
        except ActivityProblem as p:
            errors.append({"line": line, "field": p.field, "message": p.message})
            outside = outside or isinstance(p, ActivityOutside)
            continue
        look.codes.add(values["code"])
        look.checked.add(values["code"])
        ok.append(values)
    if errors:
        return ImportResult(0, errors, outside)
    for values in ok:
        _add(session, values, source=source, created_by=created_by, now=now)
    return ImportResult(len(ok), [])


def governance_section(session: Session, day: date, community_id: int | None = None,
                       lang: str = "zh-CN") -> dict[str, Any]:
    """The 五治 section of the daily briefing: indicators (month to date), the day's activities and device alerts."""
    level = "community" if community_id is not None else "street"
    data = compute_indicators(session, level=level, day=day, community_id=community_id, lang=lang)
    start, end = local_day_bounds(day)
    q = select(GovernanceActivity.kind, func.count(), func.sum(GovernanceActivity.participants),
               func.sum(GovernanceActivity.volunteer_hours)).where(
        GovernanceActivity.started_at >= start, GovernanceActivity.started_at < end)
    aq = select(Alert.severity, func.count()).where(Alert.source == "device", Alert.created_at >= start,
                                                    Alert.created_at < end)
    if community_id is not None:
        q = q.where(GovernanceActivity.community_id == community_id)
        aq = aq.where(Alert.community_id == community_id)
    kinds = {k: {"name": ACTIVITY_KINDS.get(k, ("", k, k))[2 if lang == "en" else 1], "count": n,
                 "participants": int(p or 0), "volunteer_hours": float(h or 0)}
             for k, n, p, h in session.execute(q.group_by(GovernanceActivity.kind)).all()}
    row = data["rows"][0] if data["rows"] else {"values": {}, "scores": {}}
    return {"day": day.isoformat(), "community_id": community_id, "indicators": [
        {**i, "value": row["values"].get(i["key"])} for i in data["indicators"]],
        "activities_today": kinds, "device_alerts_today": dict(session.execute(aq.group_by(Alert.severity)).all())}


DIMENSION_NAMES = {"party": ("政治引领", "Party leadership"), "law": ("法治保障", "Rule of law"),
                   "virtue": ("德治润心", "Civility"), "self": ("自治强基", "Self-governance"),
                   "smart": ("智治支撑", "Smart governance")}
DIMENSION_SHORT = {"party": ("政治", "Party"), "law": ("法治", "Law"), "virtue": ("德治", "Civility"),
                   "self": ("自治", "Self-gov."), "smart": ("智治", "Smart")}


def panel_data(session: Session, *, day: date | None = None, lang: str = "zh-CN",
               community_id: int | None = None, previous: bool = False) -> dict[str, Any]:
    """What the wall's 五治 panel shows: each community's 0–100 score per dimension, and the street's values.

    With ``community_id`` (a community-bound viewer): its own row and values only, no street totals. Scores are
    against the street's targets (services/governance_indicators.py), so a score means the same on every wall;
    with ``previous``, each row also carries last month's values and scores.
    """
    both = compute_levels(session, ("community", "street"), day=day, lang=lang, previous=previous)
    comm, street = both["community"], both["street"]
    rows = [r for r in comm["rows"] if community_id is None or r["id"] == community_id]
    en = lang == "en"
    srow = street["rows"][0] if street["rows"] and community_id is None else None
    return {"day": comm["day"], "dimensions": [{"key": d, "name": DIMENSION_NAMES[d][1 if en else 0],
                                                "short": DIMENSION_SHORT[d][1 if en else 0]} for d in DIMENSIONS],
            "communities": [{"id": r["id"], "name": place_name(r["name"], lang), "scores": r["scores"],
                             "indicator_scores": r["indicator_scores"], "previous": r.get("previous")} for r in rows],
            "indicators": comm["indicators"],
            "street": srow["values"] if srow else {},
            "street_scores": srow["scores"] if srow else {},
            "street_indicator_scores": srow["indicator_scores"] if srow else {},
            "street_expected": srow["expected"] if srow else {},
            "street_previous": srow.get("previous") if srow else None,
            "values": {r["id"]: r["values"] for r in rows}}
