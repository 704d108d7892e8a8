"""Jurisdiction of every read: community A's operator receives nothing of community B's.

For every GET under /api/v1 that admits ``dispatcher_a`` (the access table in test_access_matrix.py),
the test calls it as A's operator — plain, with the query variants that widen what it lists, and once
per query parameter naming one of B's records — and walks the answer. Nothing in it may be B's: no
``community_id`` of B, no ``*_id`` naming B's case, grid, worker, alert, tour, call, camera or device, no
``id`` of such a record inside a list of that kind, no code or name of one, no digit key that is B's
grid id in a per-grid map, and not worker B's last position. The street's dispatcher must see B's
records in the same answers (so the walk is known to find them), except for the endpoints in
``STREET_SEES_NO_B``, each with its reason. Every path id of B's is a 404/403 for A and a 200 for the
street.

A new GET endpoint is walked without a line here; one that needs a parameter to list anything gets
an entry in VARIANTS.

Outside /api/v1: the Open311 GET lists are public by design (GeoReport v2 is the citizens' interface:
no principal, the street's service requests without personal data), /osmand only takes positions in,
and the camera streams under /cameras have their own test below.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import or_, select

from dashboard.models import (AccessDevice, Alert, Camera, Case, Community, Department, Grid, GovernanceActivity,
                              PatrolStopLog, PatrolTour, VideoCall, Worker)
from dashboard.models.residents import Notice
from tests.security.conftest import POSITION_B
from tests.security.test_access_matrix import EXPECTED

# GET endpoints not walked: they hold no community's records at all
NOT_RECORDS = {
    "/api/v1/openapi.json": "the API's description",
    "/api/v1/categories": "the category catalogue is the street's, the same for every community",
    "/api/v1/categories/tree": "the category catalogue is the street's, the same for every community",
    "/api/v1/calls/config": "ICE server settings",
    "/api/v1/governance/targets": "the street's 五治 targets, the same for every community",
    "/api/v1/categories/guess": "a category code guessed from the text sent; no record is read",
    # public by design, like Open311's lists: what a grid's residents' page shows (notices posted for everyone)
    "/api/v1/r/grids/<int:grid_id>/notices": "public: a grid's live notices, as its residents' page shows them",
    "/api/v1/r/notices/<int:notice_id>/picture": "public: a live notice's picture",
    # the residents' own reads: keyed by a secret (the tracking link's token, the poster's signed grid link), not
    # by a record id a signed-in user could walk; tests/api/test_residents_reports.py probes forged and guessed ones
    "/api/v1/r/tickets/<token>": "public to the tracking link's holder only (a 43-character secret)",
    "/api/v1/r/tickets/<token>/photos/<int:photo_id>": "public to the tracking link's holder only",
    "/api/v1/r/grids/<g>/call": "public to the poster's signed grid link: the grid worker's service number",
}
# path parameters → the key of A's record in world.ids (per rule where one rule needs another record)
PATH_IDS = {"case_id": "case_a", "alert_id": "alert_a", "grid_id": "grid_a", "tour_id": "tour_a",
            "photo_id": "photo_a", "camera_id": "camera_a", "department_id": "department_a",
            "notice_id": "notice_a"}
PATH_IDS_BY_RULE = {"/api/v1/cases/<int:case_id>/duplicates": {"case_id": "border_case_a"}}
# non-JSON answers: the CSV case list is walked cell by cell; PDF and Excel are drawn from the same
# briefing() figures as GET /api/v1/briefing, which is walked
FORMATS = {"/api/v1/briefing/export.<fmt>": ["csv"]}
# query variants that make an endpoint list more than its default (every state, every level)
VARIANTS: dict[str, list[dict]] = {
    "/api/v1/alerts": [{"state": "all", "channel": "all"}],
    "/api/v1/indicators": [{"level": lv} for lv in ("grid", "community", "street", "worker", "category")],
    "/api/v1/governance/indicators": [{"level": lv} for lv in ("grid", "community", "street")],
    "/api/v1/cases": [{"page_size": "500"}],
    "/api/v1/events": [{"after": "0", "limit": "5000"}],
    "/api/v1/wall/grids": [{"bbox": "108.90,34.22,109.00,34.32"}],  # the world's grids and workers
}
# answers in which the street's dispatcher sees nothing of B either, and why
STREET_SEES_NO_B = {
    "/api/v1/cases/<int:case_id>": "one record of A (B's id is probed as a path id below)",
    "/api/v1/cases/<int:case_id>/view": "one record of A (B's id is probed as a path id below)",
    "/api/v1/grids/<int:grid_id>/register": "the register of A's grid (B's id is probed as a path id below)",
    "/api/v1/tours/<int:tour_id>": "a tour of A's grid (B's id is probed as a path id below)",
    "/api/v1/photos/<int:photo_id>": "an image of A's case (B's id is probed as a path id below)",
    "/api/v1/photos/<int:photo_id>/thumb": "an image of A's case (B's id is probed as a path id below)",
    "/api/v1/cameras/<int:camera_id>/view": "A's camera and its grid's workers (B's id is probed as a path id below)",
    "/api/v1/departments/<int:department_id>": "one department of A (B's id is probed as a path id below)",
    "/api/v1/notices/<int:notice_id>": "one notice of A (B's id is probed as a path id below)",
}

ID_KEYS = {"case_id": "case", "merged_into_id": "case", "worker_id": "worker", "assigned_worker_id": "worker",
           "reporter_worker_id": "worker", "grid_id": "grid", "last_grid_id": "grid", "home_grid_id": "grid",
           "grid_ids": "grid", "alert_id": "alert", "tour_id": "tour", "call_id": "call", "camera_ids": "camera",
           "community_id": "community", "department_id": "department"}
# a list or object under this key holds records of this kind (their "id")
CONTAINER_KIND = {"cases": "case", "case": "case", "open": "case", "recent": "case",
                  "duplicates": "case", "alerts": "alert", "alert": "alert", "workers": "worker", "worker": "worker",
                  "cameras": "camera", "devices": "device", "tours": "tour", "calls": "call", "call": "call",
                  "communities": "community", "features": "grid", "log": "stop", "activity": "activity",
                  "departments": "department", "department": "department", "grids": "grid"}
# the kind of the "id" in a top-level list of an endpoint whose container key says nothing ("items")
ITEMS_KIND = {"/api/v1/cases": "case", "/api/v1/alerts": "alert", "/api/v1/workers": "worker",
              "/api/v1/notices": "notice"}


@dataclass
class Foreign:
    """Everything of community B: ids per kind, exact strings (codes, names, titles), its worker's position."""

    ids: dict[str, set[int]] = field(default_factory=dict)
    strings: set[str] = field(default_factory=set)
    position: tuple[float, float] = POSITION_B


def foreign_records(world) -> Foreign:
    """Community B's records, read from the database (not from the fixture's list, so nothing is forgotten)."""
    b = world.ids["community_b"]
    f = Foreign()
    with world.services.db.read() as s:
        grids = s.execute(select(Grid.id, Grid.code, Grid.name).where(Grid.community_id == b)).all()
        gids = {g.id for g in grids}
        workers = s.execute(select(Worker.id, Worker.code).where(Worker.grid_id.in_(gids))).all()
        wids = {w.id for w in workers}
        cases = s.execute(select(Case.id, Case.code).where(Case.community_id == b)).all()
        cids = {c.id for c in cases}
        cams = s.execute(select(Camera.id, Camera.code, Camera.name).where(Camera.grid_id.in_(gids))).all()
        devs = s.execute(select(AccessDevice.id, AccessDevice.device_id, AccessDevice.name)
                         .where(AccessDevice.community_id == b)).all()
        tours = [t for t in s.scalars(select(PatrolTour)) if {st["grid_id"] for st in t.stops} <= gids]
        acts = s.execute(select(GovernanceActivity.id, GovernanceActivity.code, GovernanceActivity.title)
                         .where(GovernanceActivity.community_id == b)).all()
        alerts = s.execute(select(Alert.id, Alert.title).where(Alert.community_id == b)).all()
        calls = s.scalars(select(VideoCall.id).where(or_(VideoCall.worker_id.in_(wids),
                                                         VideoCall.case_id.in_(cids)))).all()
        stops = s.scalars(select(PatrolStopLog.id).where(PatrolStopLog.grid_id.in_(gids))).all()
        depts = s.execute(select(Department.id, Department.name).where(Department.community_id == b)).all()
        notices = s.execute(select(Notice.id, Notice.title).where(Notice.community_id == b)).all()
        comm = s.get(Community, b)
    f.ids = {"notice": {n.id for n in notices}, "department": {d.id for d in depts}, "community": {b}, "grid": gids, "worker": wids, "case": cids, "camera": {c.id for c in cams},
             "device": {d.id for d in devs}, "tour": {t.id for t in tours}, "activity": {a.id for a in acts},
             "alert": {a.id for a in alerts}, "call": set(calls), "stop": set(stops)}
    f.strings = ({comm.code, comm.name} | {x for g in grids for x in (g.code, g.name)} | {w.code for w in workers}
                 | {c.code for c in cases} | {x for c in cams for x in (c.code, c.name)}
                 | {x for d in devs for x in (d.device_id, d.name)} | {t.name for t in tours}
                 | {x for a in acts for x in (a.code, a.title)} | {a.title for a in alerts} | {d.name for d in depts}
                 | {n.title for n in notices})
    assert all(f.ids.values()), f"the world lacks some kind of record in community B: {f.ids}"
    return f


def leaks(obj, foreign: Foreign, kind: str | None = None, keyed: str | None = None, path: str = "$") -> list[str]:
    """Where in a decoded JSON answer something of B appears (empty when nothing does).

    ``kind`` is the kind of record the enclosing list or object holds (for its "id"); ``keyed`` the kind
    of id the digit keys of maps below are (per-grid figures, the governance panel's per-community values).
    """
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            here = f"{path}.{k}"
            if k in foreign.strings:
                out.append(f"{here}: key names B's {k!r}")
            if k.isdigit() and keyed and int(k) in foreign.ids[keyed]:
                out.append(f"{here}: B's {keyed} {k} as a key")
            if ID_KEYS.get(k):
                bad = [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, int)
                       and x in foreign.ids[ID_KEYS[k]]]
                if bad:
                    out.append(f"{here}: B's {ID_KEYS[k]} {bad}")
            if k == "id" and kind in foreign.ids and isinstance(v, int) and v in foreign.ids[kind]:
                out.append(f"{here}: B's {kind} {v}")
            child_keyed = keyed
            if isinstance(v, dict) and "grid" in k:
                child_keyed = "grid"
            elif isinstance(v, dict) and k == "values" and v and all(x.isdigit() for x in v):
                child_keyed = "community"
            out += leaks(v, foreign, CONTAINER_KIND.get(k, kind), child_keyed, here)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += leaks(v, foreign, kind, keyed, f"{path}[{i}]")
    elif isinstance(obj, str):
        if obj in foreign.strings:
            out.append(f"{path}: B's {obj!r}")
    elif isinstance(obj, float):
        if any(abs(obj - x) < 2e-6 for x in foreign.position):
            out.append(f"{path}: worker B's position {obj}")
    return out


def csv_leaks(text: str, foreign: Foreign) -> list[str]:
    return [f"row {i}: B's {cell!r}" for i, row in enumerate(csv.reader(io.StringIO(text)))
            for cell in row if cell.strip() in foreign.strings]


def walked_rules() -> list[str]:
    """Every GET rule under /api/v1 that community A's operator may call, minus those holding no records."""
    return sorted(rule for (rule, method), roles in EXPECTED.items()
                  if method == "GET" and rule.startswith("/api/v1/") and "dispatcher_a" in roles
                  and rule not in NOT_RECORDS)


def concrete(rule: str, ids: dict, *, tag: str = "a") -> list[str]:
    """The paths of a rule with the ids of community ``tag``'s records (one path per export format)."""
    override = PATH_IDS_BY_RULE.get(rule, {}) if tag == "a" else {}

    def one(m: re.Match) -> str:
        name = m.group(1)
        key = override.get(name) or PATH_IDS[name].replace("_a", f"_{tag}")
        return str(ids[key])

    path = re.sub(r"<int:(\w+)>", one, rule)
    return [path.replace("<fmt>", fmt) for fmt in FORMATS.get(rule, [None])] if "<fmt>" in rule else [path]


def naming_b(world) -> list[dict]:
    """One query per parameter an endpoint might take to name a record of B."""
    ids = world.ids
    with world.services.db.read() as s:
        grid_code = s.get(Grid, ids["grid_b"]).code
    return [{"case_id": ids["case_b"]}, {"worker_id": ids["worker_b"]}, {"grid_id": ids["grid_b"]},
            {"grid": grid_code}, {"id": ids["camera_b"]}, {"tour_id": ids["tour_b"]}]


def read(client, path: str, query: dict, foreign: Foreign, rule: str) -> tuple[int, list[str]]:
    """Status and what of B's the answer holds."""
    r = client.get(path, query_string=query)
    if r.status_code != 200:
        return r.status_code, []
    if r.mimetype == "application/json":
        return 200, leaks(r.get_json(), foreign, ITEMS_KIND.get(rule))
    if r.mimetype.startswith("text/csv"):
        return 200, csv_leaks(r.get_data(as_text=True), foreign)
    return 200, []


@pytest.fixture(scope="module")
def foreign(world) -> Foreign:
    return foreign_records(world)


def test_the_world_has_border_duplicates(world):
    with world.services.db.read() as s:
        a, b = (s.get(Case, world.ids[k]) for k in ("border_case_a", "border_case_b"))
        assert (a.community_id, b.community_id) == (world.ids["community_a"], world.ids["community_b"])


@pytest.mark.parametrize("rule", walked_rules())
def test_community_operator_receives_nothing_of_another_community(world, foreign, rule):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    queries = [{}] + VARIANTS.get(rule, [])
    found_a, found_street, statuses = [], [], []
    for path in concrete(rule, world.ids):
        for q in queries + naming_b(world):
            status, bad = read(a, path, q, foreign, rule)
            statuses.append(status)
            found_a += [f"GET {path}?{q} → {b}" for b in bad]
        for q in queries:
            found_street += read(street, path, q, foreign, rule)[1]
    assert 200 in statuses, f"{rule}: A's operator never got an answer ({statuses})"
    assert not found_a, f"{rule} gives community A's operator records of B:\n" + "\n".join(found_a[:20])
    if rule not in STREET_SEES_NO_B:
        assert found_street, f"{rule}: the street sees nothing of B either — the world lacks B's records for it"


PATH_RULES = [r for r in walked_rules() if "<int:" in r]


@pytest.mark.parametrize("rule", PATH_RULES)
def test_a_path_id_of_another_community_is_not_found(world, rule):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    for path in concrete(rule, world.ids, tag="b"):
        assert a.get(path).status_code in (403, 404), path
        assert street.get(path).status_code == 200, path


def test_the_tables_name_only_served_endpoints():
    served = {rule for rule, method in EXPECTED if method == "GET"}
    for table in (NOT_RECORDS, FORMATS, VARIANTS, STREET_SEES_NO_B, PATH_IDS_BY_RULE):
        assert set(table) <= served, set(table) - served



def test_camera_streams_of_another_community_are_not_found(world):
    """/cameras/<code>/… sit outside /api/v1 but show a community's street: they follow the same rule."""
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    for path in ("/cameras/CAM-{}/snapshot.jpg", "/cameras/CAM-{}/mjpeg?frames=1"):
        assert a.get(path.format("A")).status_code == 200, path
        assert a.get(path.format("B")).status_code == 404, path
        assert street.get(path.format("B")).status_code == 200, path


def test_community_operator_builds_tours_of_its_own_grids_only(world):
    a, ids = world.client("dispatcher_a"), world.ids
    r = a.post("/api/v1/tours", json={"name": "越界", "stops": [{"grid_id": ids["grid_a"]}, {"grid_id": ids["grid_b"]}]})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "stops[1].grid_id"
    r = a.post("/api/v1/tours/generate", json={"kind": "community", "community_id": ids["community_b"]})
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "community_id"
    with world.services.db.read() as s:
        own = set(s.scalars(select(Grid.id).where(Grid.community_id == ids["community_a"])))
    for kind in ("open_cases", "unpatrolled", "community"):
        r = a.post("/api/v1/tours/generate", json={"kind": kind, "limit": 50})
        assert r.status_code == 201, (kind, r.get_json())
        tour = r.get_json()
        assert {st["grid_id"] for st in tour["stops"]} <= own, kind
        assert a.delete(f"/api/v1/tours/{tour['id']}").status_code == 204
