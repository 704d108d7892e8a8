"""/console leads the dispatcher (issue 27 item 2), in real Chromium against the demo street:

- a new P1 case (and a new severe alert) flashes, goes to the top of its queue above older items of the same or
  higher rank, and sounds once with the desk's sound switch on — and not at all with it off;
- triage changes a case's category, the best guess (from the text, or an alert's kind) preselected;
- a case found outside the street is flagged with its distance in the queue and the detail and is given a grid;
- no raw key or internal code (kind, source, state, dispatch state) reaches the page in Chinese or English.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta

import pytest
import requests
from shapely.geometry import shape
from sqlalchemy import select

from dashboard.services.access_control import signed_headers
from dashboard.timeutil import SHANGHAI
from tests.browser.conftest import watch_page
from tests.utils.page_client import demo_http

pytestmark = pytest.mark.browser
LIVE = "() => window.GCConsole && GCLive.lastSeq() !== null"
FIRST_CASE = "() => { const el = document.querySelector('#console-cases .console-item'); return el && el.dataset.id; }"
FIRST_ALERT = "() => { const el = document.querySelector('#console-alerts .console-item'); return el && el.dataset.id; }"
SHOT = "/tmp/console-leads-{}.png"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from tests.conftest import LiveServer

    s = LiveServer(tmp_path_factory.mktemp("console-leads"), "--no-sim").start(timeout=180)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def http(srv):
    return demo_http(srv.url)


@pytest.fixture(scope="module")
def spot(srv, http) -> tuple[float, float]:
    """A point inside the first grid of the demo street."""
    f = http.get(f"{srv.url}/api/v1/grids", timeout=10).json()["features"][0]
    p = shape(f["geometry"]).representative_point()
    return p.y, p.x


def report(srv, http, spot, code: str, text: str, dlat: float = 0.0) -> dict:
    r = http.post(f"{srv.url}/api/v1/cases", json={"category_code": code, "lat": spot[0] + dlat, "lon": spot[1],
                                                   "description": text}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def device(srv) -> dict:
    from dashboard.db import Database
    from dashboard.models.governance import AccessDevice

    db = Database(srv.db_url)
    try:
        with db.read() as s:
            d = s.scalars(select(AccessDevice).where(AccessDevice.kind == "door").order_by(AccessDevice.device_id)).first()
            return {"device_id": d.device_id, "secret": d.secret}
    finally:
        db.dispose()


def device_event(srv, dev: dict, body: dict) -> None:
    raw = json.dumps({"event_id": uuid.uuid4().hex, **body}).encode()
    r = requests.post(srv.url + "/api/v1/devices/events", data=raw, timeout=10,
                      headers=signed_headers(dev["device_id"], dev["secret"], raw))
    assert r.status_code in (200, 201, 202), r.text


def cap(lat: float, lon: float, ident: str, severity: str, headline: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{ident}</identifier><sender>sensor@xiyilu</sender><sent>2026-11-29T09:00:00+08:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Safety</category><event>{headline}</event><urgency>Immediate</urgency><severity>{severity}</severity>
    <certainty>Observed</certainty><expires>2099-01-01T00:00:00+08:00</expires><headline>{headline}</headline>
    <description>{headline}</description>
    <area><areaDesc>测试</areaDesc><circle>{lat:.6f},{lon:.6f} 0.02</circle></area></info>
</alert>""".encode()


def console(browser, srv, lang: str = "zh-CN"):
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    watch = watch_page(page)
    page.goto(srv.url + "/console" + ("?lang=en" if lang == "en" else ""))
    page.wait_for_function(LIVE, timeout=30000)
    return ctx, page, watch


def wait_item(page, queue: str, item_id: int) -> None:
    page.wait_for_selector(f"#console-{queue} .console-item[data-id='{item_id}']", timeout=15000)


def test_new_urgent_items_lead_flash_and_sound_once(browser, srv, http, spot):
    ctx, page, watch = console(browser, srv)
    try:
        page.click("#console-sound")  # the switch is the gesture the browser wants before any sound
        page.wait_for_function("() => GCConsole.soundOn === true", timeout=5000)
        assert page.inner_text("#console-sound") == "提示音：开"
        older = report(srv, http, spot, "0701", "三楼冒烟")            # a P1 (火情): flashes and leads …
        wait_item(page, "cases", older["id"])
        page.wait_for_function("() => GCConsole.beeps === 1", timeout=5000)
        page.click(f"#console-cases .console-item[data-id='{older['id']}']")  # … until the dispatcher opens it
        ordinary = report(srv, http, spot, "0101", "楼道堆放垃圾")    # a P3: no flash, no sound
        wait_item(page, "cases", ordinary["id"])
        assert "console-flash" not in page.get_attribute(f"#console-cases [data-id='{ordinary['id']}']", "class")
        newer = report(srv, http, spot, "0701", "二楼起火")             # a new P1: above the older P1
        wait_item(page, "cases", newer["id"])
        assert page.evaluate(FIRST_CASE) == str(newer["id"])
        item = f"#console-cases .console-item[data-id='{newer['id']}']"
        assert "console-flash" in page.get_attribute(item, "class")
        assert page.evaluate(f"() => getComputedStyle(document.querySelector(\"{item}\")).animationName") == "console-flash"
        page.wait_for_function("() => GCConsole.beeps === 2", timeout=5000)
        time.sleep(1.0)
        assert page.evaluate("() => GCConsole.beeps") == 2  # once, however often the queue redraws
        order = page.eval_on_selector_all("#console-cases .console-item", "els => els.map(e => e.dataset.id)")
        assert order.index(str(older["id"])) < order.index(str(ordinary["id"]))  # then priority, then age
        page.screenshot(path=SHOT.format("flash"))

        # alerts: a red (extreme) alert, opened; then a new severe smoke alarm leads above it and sounds once
        lat, lon = spot
        r = http.post(f"{srv.url}/api/v1/alerts/cap", data=cap(lat, lon, "LEADS-1", "Extreme", "暴雨红色预警"),
                      headers={"Content-Type": "application/cap+xml"}, timeout=10)
        assert r.status_code == 201, r.text
        red = r.json()["alert"]["id"]
        wait_item(page, "alerts", red)
        page.wait_for_function("() => GCConsole.beeps === 3", timeout=5000)
        page.click(f"#console-alerts .console-item[data-id='{red}']")
        device_event(srv, device(srv), {"type": "smoke_alarm"})
        page.wait_for_function(f"() => ({FIRST_ALERT})() !== '{red}'", timeout=15000)
        smoke = int(page.evaluate(FIRST_ALERT))
        assert "console-flash" in page.get_attribute(f"#console-alerts [data-id='{smoke}']", "class")
        assert "烟感报警" in page.inner_text(f"#console-alerts [data-id='{smoke}']")
        page.wait_for_function("() => GCConsole.beeps === 4", timeout=5000)
        # the alert turned into a case gets the guess from its kind (烟感 → 火情), not the catalogue's first entry
        page.click(f"#console-alerts .console-item[data-id='{smoke}']")
        page.wait_for_selector("#console-alert-category", timeout=10000)
        fire = http.get(f"{srv.url}/api/v1/categories/guess", params={"kind": "smoke_alarm"}, timeout=10).json()["code"]
        assert fire == "0701"
        page.wait_for_function("code => document.getElementById('console-alert-category').value === code", arg=fire)

        # the switch off: a new P1 still leads and flashes, silently
        page.click("#console-sound")
        page.wait_for_function("() => GCConsole.soundOn === false")
        assert page.inner_text("#console-sound") == "提示音：关"
        quiet = report(srv, http, spot, "0702", "有人摔倒受伤")
        wait_item(page, "cases", quiet["id"])
        assert page.evaluate(FIRST_CASE) == str(quiet["id"])
        time.sleep(0.5)
        assert page.evaluate("() => GCConsole.beeps") == 4
        watch.assert_clean()
    finally:
        ctx.close()


def test_triage_changes_the_category(browser, srv, http, spot):
    case = report(srv, http, spot, "0101", "楼道里有燃气味，疑似泄漏")  # filed as 暴露垃圾 by mistake
    guess = http.get(f"{srv.url}/api/v1/categories/guess", params={"text": case["description"]}).json()["code"]
    cats = {c["code"]: c for c in http.get(f"{srv.url}/api/v1/categories").json()["items"]}
    assert cats[guess]["name"] == "燃气隐患" and cats[guess]["clock"] == "natural"
    from tests.api.conftest import jpeg_bytes

    for stage, colour in (("before", (200, 30, 30)), ("after", (30, 160, 60))):  # photos, labelled by stage
        r = http.post(f"{srv.url}/api/v1/cases/{case['id']}/photos", data={"stage": stage}, timeout=10,
                      files={"photo": (f"{stage}.jpg", jpeg_bytes(color=colour), "image/jpeg")})
        assert r.status_code == 201, r.text
    ctx, page, watch = console(browser, srv)
    try:
        wait_item(page, "cases", case["id"])
        page.click(f"#console-cases .console-item[data-id='{case['id']}']")
        page.wait_for_selector("#console-category", timeout=10000)
        assert page.inner_text(".console-photo-group[data-stage='before'] .console-photo-label") == "处置前"
        assert page.inner_text(".console-photo-group[data-stage='after'] .console-photo-label") == "处置后"
        assert page.locator(".console-photo-group[data-stage='before'] img").count() == 1
        assert page.locator(".console-photo-group[data-stage='after'] img").count() == 1
        assert page.input_value("#console-category") == guess  # the best guess, preselected and marked
        assert "推荐" in page.inner_text(f"#console-category option[value='{guess}']")
        page.click("button[data-action='change-category']")
        page.wait_for_function("() => document.querySelector('#console-detail h2').textContent.includes('燃气隐患')",
                               timeout=10000)
        page.wait_for_selector("#console-timeline tr[data-action='recategorize']", timeout=10000)
        assert "更改类别" in page.inner_text("#console-timeline tr[data-action='recategorize']")
        page.wait_for_function(f"() => document.querySelector(\"#console-cases [data-id='{case['id']}']\")"
                               ".textContent.includes('燃气隐患')", timeout=10000)
        view = http.get(f"{srv.url}/api/v1/cases/{case['id']}/view").json()
        assert view["category_code"] == guess and view["priority"] == cats[guess]["default_priority"]
        assert view["sla_due_at"] is not None  # an urgent clock runs from the report
        page.screenshot(path=SHOT.format("triage"))
        watch.assert_clean()
    finally:
        ctx.close()


def test_outside_case_flagged_and_given_a_grid(browser, srv, http, spot):
    case = report(srv, http, spot, "0101", "街道外堆放垃圾", dlat=-0.03)
    assert case["outside"] and case["grid_id"] is None
    ctx, page, watch = console(browser, srv)
    try:
        wait_item(page, "cases", case["id"])
        flag = page.inner_text(f"#console-cases [data-id='{case['id']}'] [data-flag='outside']")
        assert re.fullmatch(r"街道外 \d+(\.\d)? 公里", flag), flag
        page.click(f"#console-cases .console-item[data-id='{case['id']}']")
        page.wait_for_selector("#console-outside", timeout=10000)
        text = page.inner_text("#console-outside")
        view = http.get(f"{srv.url}/api/v1/cases/{case['id']}/view").json()
        assert f"{view['outside_m']} 米" in text and view["nearest_grid_name"] in text
        assert page.input_value("#console-grid-pick") == str(view["nearest_grid_id"])  # the nearest, preselected
        page.click("button[data-action='assign-grid']")
        page.wait_for_selector("#console-timeline tr[data-action='assign_grid']", timeout=10000)
        page.wait_for_function(f"() => document.querySelector(\"#console-cases [data-id='{case['id']}']\")"
                               f".textContent.includes({json.dumps(view['nearest_grid_name'])})", timeout=10000)
        after = http.get(f"{srv.url}/api/v1/cases/{case['id']}/view").json()
        assert after["grid_id"] == view["nearest_grid_id"] and after["community_id"] is not None
        assert page.inner_text("#console-outside")  # still flagged: the place is outside, the grid is by hand
        page.screenshot(path=SHOT.format("outside"))
        watch.assert_clean()
    finally:
        ctx.close()


def codes_and_labels(page) -> tuple[set[str], list[str]]:
    """Every code the console labels (kinds, sources, states …) and every label text the page was given."""
    texts = page.evaluate("() => GCConsole.t")
    prefixes = ("alert.kind.", "alert.source.", "case.source.", "case.state.", "alert.state.", "console.dispatch.",
                "duty.", "console.severity.", "console.level.")
    codes = {k.split(".")[-1] for k in texts if k.startswith(prefixes)} | {"door_held_open", "operator", "app", "sent",
                                                                            "done", "smoke_alarm", "cap_alert"}
    pieces = {piece for v in texts.values() for piece in re.split(r"\{[a-z_]+\}", v) if len(piece.strip()) > 1}
    return codes, sorted(pieces, key=len, reverse=True)  # a template's fixed parts around its {placeholders}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_no_raw_codes_on_the_console(browser, srv, http, spot, lang):
    # what the console shows: a door held open at night, a case routed to a department (dispatch "sent"),
    # an operator's case, a worker-app case … every kind, source and dispatch state on screen
    night = datetime.now(SHANGHAI).replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=1)
    device_event(srv, device(srv), {"type": "door_held_open", "duration_s": 900,
                                    "occurred_at": night.isoformat()})
    routed = report(srv, http, spot, "0402", "燃气表漏气")
    dept = http.get(f"{srv.url}/api/v1/departments", params={"category": "0402"}).json()["items"][0]
    assert dept["takes"]
    r = http.post(f"{srv.url}/api/v1/cases/{routed['id']}/actions/dispatch", json={"department_id": dept["id"]})
    assert r.status_code == 200, r.text
    ctx, page, watch = console(browser, srv, lang)
    try:
        page.wait_for_selector("#console-alerts .console-item", timeout=15000)
        codes, labels = codes_and_labels(page)
        # Chinese: no ASCII code anywhere on the page; English: none in what carries a label (badges, fields,
        # timeline, dispatch rows, worker states) — the free text of an English alert may say "grid" as a word
        labelled = ("() => Array.from(document.querySelectorAll('.console-badge, .console-value, .console-dispatch, "
                    "#console-timeline td, .console-worker-meta, .console-item-meta')).map(e => e.innerText).join('\\n')")
        grab = (lambda: page.inner_text("body")) if lang == "zh-CN" else (lambda: page.evaluate(labelled))
        whole = []
        seen = [grab()]
        ids = page.eval_on_selector_all("#console-alerts .console-item, #console-cases .console-item, "
                                        "#console-tracking .console-item",
                                        "els => els.map(e => [e.closest('.console-list').id, e.dataset.id])")
        assert any(q == "console-tracking" and i == str(routed["id"]) for q, i in ids)
        for queue, item in ids[:25]:
            page.click(f"#{queue} .console-item[data-id='{item}']")
            page.wait_for_function("() => document.querySelector('#console-detail .console-detail-head')", timeout=10000)
            time.sleep(0.3)
            seen.append(grab())
            whole.append(page.inner_text("body"))
        if lang == "zh-CN":
            page.screenshot(path=SHOT.format("labels-zh"))
        else:
            page.screenshot(path=SHOT.format("labels-en"))
        raw = set()
        for text in seen:
            for label in labels:  # what a label says is not a raw code, even when it holds a lowercase word
                text = text.replace(label, " ")
            text = text.replace("(demo)", " ")  # the demo operator's account name
            raw |= set(re.findall(r"\b(?:console|case|alert|priority|duty|drill|call)\.[a-z_.]+\b", text))
            raw |= {c for c in codes if re.search(rf"(?<![A-Za-z_]){re.escape(c)}(?![A-Za-z_])", text)}
            raw |= set(re.findall(r"\b[a-z]+_[a-z_]+\b", text))
        for text in whole:  # keys and snake_case codes nowhere, in either language
            raw |= set(re.findall(r"\b(?:console|case|alert|priority|duty|drill|call)\.[a-z_.]+\b", text))
            raw |= set(re.findall(r"\b[a-z]+_[a-z_]+\b", text))
        assert not raw, f"raw codes on the {lang} console: {sorted(raw)}"
        page.click(f"#console-tracking .console-item[data-id='{routed['id']}']")
        page.wait_for_selector(".console-dispatch[data-state='sent']", timeout=10000)
        assert page.inner_text(".console-dispatch[data-state='sent']").count(
            "已派发" if lang == "zh-CN" else "Sent") == 1
        watch.assert_clean()
    finally:
        ctx.close()
