"""The language machinery: one label per internal code, API errors by code in the page's language, the chosen
language remembered across pages and announced in ``<html lang>``."""
from __future__ import annotations

import json
import re

import pytest

from dashboard.i18n import (ENUM_VALUES, LANG_COOKIE, LANGS, catalogue, error_code, error_text, label, labels_for)


def test_every_enum_value_has_a_label_in_both_languages():
    keys = catalogue()
    missing = [f"{f}.{v}" for f, vs in ENUM_VALUES.items() for v in vs if f"{f}.{v}" not in keys]
    assert not missing, f"enum values without a text: {missing}"
    for lang in LANGS:
        for f, vs in ENUM_VALUES.items():
            for v in vs:
                text = label(f, v, lang)
                assert text and text != v and not text.startswith(f), (f, v, lang, text)


def test_the_model_enums_are_all_listed():
    from dashboard.models.enums import AlertState, CaseSource, CaseState, DutyState, Role

    for family, enum in {"case.state": CaseState, "case.source": CaseSource, "duty": DutyState,
                         "alert.state": AlertState, "role": Role}.items():
        assert {m.value for m in enum} <= set(ENUM_VALUES[family]), family


def test_an_unknown_value_never_shows_its_code():
    assert label("alert.kind", "brand_new_kind", "en") == "Other alert"
    assert label("alert.kind", "brand_new_kind", "zh-CN") == "其他告警"
    assert label("case.state", None, "en") == ""
    assert label("no.such.family", "x", "en") == ""
    assert label("case.state", "closed", "en") == "Closed" and label("case.state", "closed", "zh-CN") == "结案"
    assert labels_for("en")["dispatch.state.sent"] == "Sent"


@pytest.mark.parametrize("status, message, code", [
    (400, "title is required (at most 128 characters)", "required"),
    (422, "name must be at most 64 characters", "too_long"),
    (400, "unknown grid '610'", "unknown"),
    (400, "limit must be an integer", "invalid"),
    (400, "not allowed to act for this worker", "forbidden"),
    (401, "sign in first", "unauthenticated"),
    (403, "role worker may not", "forbidden"),
    (404, "no case 5", "not_found"),
    (409, "state changed", "conflict"),
    (429, "slow down", "rate_limited"),
    (503, "database unavailable", "unavailable"),
])
def test_error_codes(status, message, code):
    assert error_code(status, message) == code


def test_error_texts_name_a_known_field_and_hide_an_unknown_one():
    assert error_text("required", "title", "zh-CN") == "请填写主题"
    assert error_text("required", "title", "en") == "Title is required"
    assert error_text("invalid", "some_internal_field", "en") == "The input is not valid; check it and try again"
    assert error_text("no_such_code", None, "zh-CN") == "输入有误，请检查后重试"
    for code in ("required", "invalid", "too_long", "unknown", "conflict", "not_found", "forbidden",
                 "unauthenticated", "too_large", "rate_limited", "unavailable", "network"):
        for lang in LANGS:
            assert f"error.{code}.any" in catalogue() and "{" not in error_text(code, None, lang)


def test_api_errors_carry_a_code(app_services):
    app, _ = app_services
    r = app.test_client().get("/api/v1/alerts?limit=x")
    body = r.get_json()["error"]
    assert r.status_code == 400 and body["code"] == "invalid" and body["field"] == "limit"


def _html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def _shared_texts(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="gc-texts">(.*?)</script>', html, re.S).group(1))


@pytest.fixture
def with_pages(app_services):
    from callbacks import register_all
    from layouts.app import create_dash

    app, services = app_services
    register_all(create_dash(app, services), services)
    return app, services


def test_lang_is_remembered_and_announced(with_pages):
    app, _ = with_pages
    c = app.test_client()
    first = c.get("/login")
    assert _html_lang(first.get_data(as_text=True)) == "zh-CN"
    assert _shared_texts(first.get_data(as_text=True))["case.state.closed"] == "结案"
    chosen = c.get("/login?lang=en")
    assert _html_lang(chosen.get_data(as_text=True)) == "en"
    assert c.get_cookie(LANG_COOKIE).value == "en"
    later = c.get("/login").get_data(as_text=True)  # no ?lang=: the choice holds
    assert _html_lang(later) == "en" and _shared_texts(later)["case.state.closed"] == "Closed"
    assert _shared_texts(later)["error.required"] == "{field} is required"
    c.get("/login?lang=zh-CN")
    assert _html_lang(c.get("/login").get_data(as_text=True)) == "zh-CN"
    assert not c.get("/api/v1/health?lang=en").headers.getlist("Set-Cookie") or \
        LANG_COOKIE not in " ".join(c.get("/api/v1/health?lang=en").headers.getlist("Set-Cookie"))


def test_the_router_serves_the_remembered_language(with_pages):
    from layouts.app import page_for

    app, services = with_pages
    with app.test_request_context("/_dash-update-component", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        page = page_for("/login", "", services)
        assert "Sign in" in json.dumps(page.to_plotly_json(), default=str)
    with app.test_request_context("/_dash-update-component", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        page = page_for("/login", "?lang=zh-CN", services)  # an explicit ?lang= wins
        assert "Sign in" not in json.dumps(page.to_plotly_json(), default=str)


def test_names_in_the_chosen_language():
    from dashboard.i18n import localize_json, place_name, place_names_in

    assert place_name("兴乐社区第04网格", "en") == "Xingle 04"  # the community's English and the number
    assert place_name("兴乐社区", "en") == "Xingle Community" and place_name("兴乐", "en") == "Xingle"
    assert place_name("市容环境/乱贴广告", "en") == "City appearance/Illegal posters"
    assert place_name("无名小区", "en") == "无名小区"  # no English: stays Chinese, never a key
    assert place_name("兴乐社区", "zh-CN") == "兴乐社区"
    assert place_names_in("最多 市容环境，新城坊社区第07网格", "en") == "最多 City appearance，Xinchengfang 07"
    data = {"by_category": [{"name": "市容环境", "count": 1}], "description": "市容环境",
            "layout": {"yaxis": {"tickvals": ["兴乐"], "ticktext": ["兴乐"]}}, "y": ["西一路"]}
    assert localize_json(data, "en") == {
        "by_category": [{"name": "City appearance", "count": 1}], "description": "市容环境",  # free text: as written
        "layout": {"yaxis": {"tickvals": ["Xingle"], "ticktext": ["Xingle"]}}, "y": ["Xiyilu"]}
    assert localize_json(data, "zh-CN") is data


def test_every_demo_name_has_its_english():
    """The demo street's communities, categories (大类 and 小类) and the street itself are named in English."""
    import csv
    from pathlib import Path

    from dashboard.i18n import place_name

    data = Path(__file__).resolve().parents[2] / "data" / "xiyilu"
    names = {f["properties"]["name"] for f in json.loads((data / "communities.geojson").read_text())["features"]}
    names |= {f["properties"]["name"] for f in json.loads((data / "street.geojson").read_text())["features"]}
    with open(data / "categories.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names |= {row["major_name"], row["minor_name"]}
    grids = {f["properties"]["name"] for f in json.loads((data / "grids.geojson").read_text())["features"]}
    cjk = re.compile(r"[\u4e00-\u9fff]")
    missing = sorted(n for n in names | grids if cjk.search(place_name(n, "en")))
    assert not missing, f"{len(missing)} demo names without English: {missing[:10]}"


def test_an_api_answer_names_places_in_the_visitors_language(with_pages):
    from dashboard.services.importers import load_demo
    from tests.conftest import ROOT

    app, services = with_pages
    with services.db.write() as s:
        load_demo(s, ROOT / "data" / "xiyilu")
    services.reload_grids()
    c = app.test_client()
    zh = c.get("/api/v1/wall/stats").get_json()
    assert any(r["name"] == "兴乐社区" for r in zh["ranking"])  # no choice made: as stored (API clients)
    c.get("/login?lang=en")
    en = c.get("/api/v1/wall/stats").get_json()
    assert any(r["name"] == "Xingle Community" for r in en["ranking"])
    assert not any(re.search(r"[\u4e00-\u9fff]", r["name"]) for r in en["ranking"])
    # the page that edits names reads them as stored: an English name in its edit box would be saved over the Chinese
    admin = c.get("/api/v1/wall/stats", headers={"Referer": "http://localhost/admin?tab=categories"}).get_json()
    assert any(r["name"] == "兴乐社区" for r in admin["ranking"])


def test_the_case_list_export_in_english_has_no_codes_or_chinese_names():
    from dashboard.services.exports import case_rows

    case = {"code": "2026120700001", "major": "市容环境", "category": "乱贴广告", "grid_code": "610102001001004",
            "grid_name": "兴乐社区第04网格", "state": "feedback", "onsite": False, "reporter": None,
            "created_at": "2026-12-07T01:00:00+00:00", "dispatched_at": None, "closed_at": None}
    head, rows = case_rows([case], "en")
    assert rows[0][1:6] == ["City appearance", "Illegal posters", "610102001001004", "Xingle 04", "Awaiting check"]
    assert not any(re.search(r"[\u4e00-\u9fff]", str(h)) or re.fullmatch(r"[a-z_.]+", str(h)) for h in head), head
    _, zh = case_rows([case], "zh-CN")
    assert zh[0][1:6] == ["市容环境", "乱贴广告", "610102001001004", "兴乐社区第04网格", "反馈待核查"]
