"""Input at the edge (issue 25, items 9 and 13): what a fuzzer sent that reached the database or a parser
as a 500, and the community pin that a number written another way slipped past.

Every refusal is a 4xx in the project's error shape naming the field, and changes nothing.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.models import Position
from tests.security.conftest import build_world

HUGE = 2**64 + 1  # past what SQLite (or a PostgreSQL BIGINT) stores


@pytest.fixture(scope="module")
def ew(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("edges"), with_pages=False,
                    extra={"GC_RATE_OSMAND": "off", "GC_RATE_WEBHOOK": "off", "GC_CAMERA_STREAM_MAX_S": "1.5"})
    yield w
    w.services.shutdown()


def refused(r, field: str, statuses=(400, 422)) -> None:
    """A 4xx in the error shape that names ``field``."""
    assert r.status_code in statuses, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.get_json()["error"]["field"] == field, r.get_json()


@pytest.mark.parametrize("form", ["+{b}", " {b}", "{b} ", "0{b}", "{b}.0", "{a}&community_id={b}"])
def test_the_community_pin_takes_only_plain_digits(ew, form):
    """community_id=+2 was no digit string for the pin (so it passed unpinned) and int() read it as 2:
    A's operator got B's 五治 indicators."""
    a, b = ew.ids["community_a"], ew.ids["community_b"]
    c = ew.client("dispatcher_a")
    r = c.get(f"/api/v1/governance/indicators?level=grid&community_id={form.format(a=a, b=b)}")
    refused(r, "community_id", (400, 403))
    # the plain forms still work: its own id, and nothing at all
    for q in (f"&community_id={a}", ""):
        assert c.get(f"/api/v1/governance/indicators?level=grid{q}").status_code == 200


@pytest.mark.parametrize("method, url, body, field", [
    ("post", "/api/v1/patrols/start", {"worker_id": HUGE}, "worker_id"),
    ("post", "/api/v1/unmask", {"kind": "case", "field": "reporter_phone", "id": HUGE, "reason": "call back"}, "id"),
    ("post", "/api/v1/positions", {"worker_id": HUGE, "fixes": [{"lat": 34.26, "lon": 108.95}]}, "worker_id"),
    ("get", "/api/v1/workers?page=4346336675759664128", None, "page"),
    ("get", f"/api/v1/calls?worker_id={HUGE}", None, "worker_id"),
    ("get", f"/api/v1/grids?community_id={HUGE}", None, "community_id"),
    ("get", f"/api/v1/cameras?grid_id={HUGE}", None, "grid_id"),
    ("get", f"/api/v1/cases/{HUGE}", None, "case_id"),
    ("patch", f"/api/v1/users/{HUGE}", {"active": False}, "user_id"),
    ("post", "/api/v1/users", {"username": "big", "password": "a long passphrase 1", "role": "dispatcher",
                               "community_id": HUGE}, "community_id"),
])
def test_ids_past_64_bits_are_a_4xx_naming_the_field(ew, method, url, body, field):
    r = getattr(ew.client("admin"), method)(url, json=body)
    refused(r, field)


@pytest.mark.parametrize("t", [3349390429000000, 10**18, -1])
def test_a_fix_time_no_calendar_holds_is_a_422(ew, t):
    """t=3349390429000000 ms is in the year 108110: datetime.fromtimestamp raised ValueError (a 500)."""
    with ew.services.db.read() as s:
        before = s.scalar(select(func.count()).select_from(Position))
    r = ew.client("admin").post("/api/v1/positions", json={"worker_id": ew.ids["worker_a"], "fixes": [
        {"lat": 34.26, "lon": 108.95}, {"t": t, "lat": 34.26, "lon": 108.95}]})
    refused(r, "fixes.1.t")
    with ew.services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Position)) == before


@pytest.mark.parametrize("method, url, body, field", [
    ("post", "/api/v1/unmask", {"kind": {}, "field": "reporter_phone", "id": 1, "reason": "call back"}, "kind"),
    ("post", "/api/v1/unmask", {"kind": "case", "field": ["x"], "id": 1, "reason": "call back"}, "field"),
    ("post", "/api/v1/positions", {"device_id": {"a": 1}, "fixes": [{"lat": 34.26, "lon": 108.95}]}, "device_id"),
    ("post", "/api/v1/positions", {"worker_id": 1, "fixes": [{"lat": 34.26, "lon": 108.95, "alarm": []}]},
     "fixes.0.alarm"),
])
def test_an_object_where_a_string_belongs_is_a_4xx(ew, method, url, body, field):
    refused(getattr(ew.client("admin"), method)(url, json=body), field)


def test_the_camera_stream_says_it_is_endless_and_ends_after_its_maximum(ew):
    doc = ew.client("admin").get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/cameras/{code}/mjpeg"]["get"]
    assert op["x-endless"] is True and op["x-max-duration-s"] == 1.5
    assert "multipart/x-mixed-replace" in next(iter(op["responses"]["200"]["content"]))
    import time

    t0 = time.monotonic()
    r = ew.client("dispatcher").get("/cameras/CAM-A/mjpeg?fps=5", buffered=False)
    assert r.status_code == 200
    body = b"".join(r.response)  # frames=0 asks for "until the viewer leaves": the maximum ends it instead
    took = time.monotonic() - t0
    assert 1.2 < took < 6, took
    assert body.count(b"--gcframe") >= 3


@pytest.mark.parametrize("query, field", [("page=%2B2", "page"), ("page_size=%205", "page_size"),
                                          ("page=1_0", "page"), ("page_size=%D9%A2", "page_size")])
def test_query_integers_are_plain_ascii_digits(ew, query, field):
    """int() reads "+2", " 5", "1_0" and "٢" (Arabic-Indic two) as numbers; the API takes a number written plainly."""
    refused(ew.client("admin").get(f"/api/v1/cases?{query}"), field)


def test_a_json_body_nested_too_deep_is_a_400_not_a_500(tmp_path):
    """A 200 KB body of nested brackets exhausted the JSON parser's recursion before any view ran."""
    from dashboard.app import create_app
    from dashboard.config import Settings
    from dashboard.db import migrate

    app, services = create_app(Settings.from_env({}, db_url=f"sqlite:///{tmp_path / 't.db'}",
                                                 data_dir=tmp_path / "var", simulate=False))
    migrate(services.db.engine)
    c = app.test_client()
    for depth in (100_000, 990):
        r = c.post("/api/v1/cases", data="[" * depth + "]" * depth, content_type="application/json",
                   headers={"X-API-Key": "nobody"})
        assert r.status_code in (400, 401), (depth, r.status_code)
        assert r.is_json and r.get_json()["error"]["status"] in (400, 401)
    services.shutdown()
