"""/m in headless Chromium with emulated geolocation: report + handle on the spot, report + escalate,
live task accept/arrive/finish, offline queue and a lost answer retried without a duplicate, patrol."""
from __future__ import annotations

import io
import time

import pytest
import requests

from tests.browser.conftest import watch_page
from tests.utils.page_client import demo_http

pytestmark = pytest.mark.browser


def jpeg(color=(180, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buf, "JPEG")
    return buf.getvalue()


def photo(name: str, color=(180, 40, 40)) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg(color)}


def wait_until(fn, timeout: float = 15, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def cases(url: str, **params) -> list[dict]:
    return requests.get(f"{url}/api/v1/cases", params={"page_size": 500, **params}, timeout=10).json()["items"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import LiveServer

    srv = LiveServer(tmp_path_factory.mktemp("mobile"), "--no-sim").start()
    yield srv
    srv.stop()


def grid_center(url: str, worker_code: str) -> tuple[float, float, int]:
    w = requests.get(f"{url}/api/v1/workers", params={"q": worker_code}, timeout=10).json()["items"][0]
    fc = requests.get(f"{url}/api/v1/grids", timeout=10).json()
    f = next(x for x in fc["features"] if x["properties"]["code"] == w["grid_code"])
    ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0]
    from shapely.geometry import Polygon

    c = Polygon(ring).representative_point()
    return c.y, c.x, f["id"]


def open_m(browser, url: str, lat: float, lon: float):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
                              permissions=["geolocation"], locale="zh-CN")
    page = ctx.new_page()
    w = watch_page(page)
    page.goto(url + "/m")
    return ctx, page, w


def sign_in(page, code: str) -> None:
    page.wait_for_selector("#m-signin:not([hidden])")
    page.fill("#m-demo-code", code)
    page.click("#m-demo-go")
    page.wait_for_selector("#m-main:not([hidden])")
    page.wait_for_function("() => window.GCMobile && GCMobile.state() && GCMobile.state().signedIn")


def fill_report(page, description: str, *, after: bool) -> None:
    page.click("#m-tab-report")
    page.wait_for_function("() => GCMobile.state().loc && GCMobile.state().loc.src === 'gps'")
    page.select_option("#m-major", index=1)
    page.select_option("#m-minor", index=1)
    page.fill("#m-desc", description)
    page.set_input_files("#m-photo", files=[photo("before.jpg")])
    page.wait_for_selector("#m-photo-preview img")
    if after:
        page.set_input_files("#m-after", files=[photo("after.jpg", (40, 160, 40))])
        page.wait_for_selector("#m-after-preview img")


def test_report_onsite_and_escalate_then_task_live(browser, server, tmp_path):
    lat, lon, grid_id = grid_center(server.url, "W0001")
    ctx, page, watch = open_m(browser, server.url, lat, lon)
    try:
        sign_in(page, "W0001")
        assert "W0001" in page.inner_text("#m-me")
        # 1. report with a photo and handle it on the spot
        fill_report(page, "浏览器测试：就地处置垃圾", after=True)
        page.click("#m-onsite")
        page.wait_for_function("() => GCMobile.state().sent.length === 1", timeout=15000)
        page.screenshot(path=str(tmp_path / "m-onsite.png"))
        onsite = [c for c in cases(server.url) if c["description"] == "浏览器测试：就地处置垃圾"]
        assert len(onsite) == 1 and onsite[0]["state"] == "closed" and onsite[0]["handled_onsite"] is True
        detail = requests.get(f"{server.url}/api/v1/cases/{onsite[0]['id']}", timeout=10).json()
        assert sorted(p["stage"] for p in detail["photo_list"]) == ["after", "before"]
        assert detail["grid_id"] == grid_id and abs(detail["lat"] - lat) < 1e-4
        # 2. report and escalate: visible through the API, in triage
        fill_report(page, "浏览器测试：上报占道经营", after=False)
        page.click("#m-escalate")
        page.wait_for_function("() => GCMobile.state().sent.length === 2", timeout=15000)
        esc = [c for c in cases(server.url, state="reported") if c["description"] == "浏览器测试：上报占道经营"]
        assert len(esc) == 1 and esc[0]["source"] == "app" and "*" in esc[0]["reporter"]  # masked
        assert esc[0]["grid_id"] == grid_id and len(esc[0]["photos"]) == 1
        # 3. the centre dispatches it back to this worker: the task arrives live, accept → arrive → finish
        me = page.evaluate("GCMobile.state().me")
        r = demo_http(server.url).post(f"{server.url}/api/v1/cases/{esc[0]['id']}/actions/dispatch",
                                       json={"worker_id": me}, timeout=10)
        assert r.status_code == 200, r.text
        page.click("#m-tab-tasks")
        task = f"li.m-task[data-case-id='{esc[0]['id']}']"
        page.wait_for_selector(task, timeout=15000)  # pushed through GCLive, no reload
        page.click(f"{task} button[data-action='acknowledge']")
        page.wait_for_selector(f"{task}[data-state='acknowledged']")
        page.click(f"{task} button[data-action='arrive']")
        page.wait_for_selector(f"{task}[data-state='arrived']")
        page.click(f"{task} button[data-action='finish']")
        page.fill(f"{task} .m-finish textarea", "已劝离，现场恢复")
        page.set_input_files(f"#m-finish-photo-{esc[0]['id']}", files=[photo("done.jpg", (30, 30, 200))])
        page.wait_for_selector(f"#m-finish-prev-{esc[0]['id']} img")
        page.click(f"{task} button[data-action='send']")
        page.wait_for_selector(task, state="detached", timeout=15000)
        done = requests.get(f"{server.url}/api/v1/cases/{esc[0]['id']}", timeout=10).json()
        assert done["state"] == "feedback" and [p["stage"] for p in done["photo_list"]] == ["before", "after"]
        assert [e["action"] for e in done["timeline"]][-3:] == ["acknowledge", "arrive", "feedback"]
        page.screenshot(path=str(tmp_path / "m-tasks.png"))
        watch.assert_clean()
    finally:
        ctx.close()


def test_offline_queue_and_lost_answer_never_duplicate(browser, server):
    lat, lon, grid_id = grid_center(server.url, "W0002")
    ctx, page, watch = open_m(browser, server.url, lat, lon)
    try:
        sign_in(page, "W0002")
        # offline: the report waits in IndexedDB, then goes once the network is back
        fill_report(page, "浏览器测试：离线上报", after=False)
        ctx.set_offline(True)
        page.click("#m-escalate")
        wait_until(lambda: page.evaluate("GCMobile.queued()") == 1, 5, "queue of 1")
        page.wait_for_function("() => document.getElementById('m-net').textContent.length > 0")
        assert page.evaluate("GCMobile.queued()") == 1
        ctx.set_offline(False)
        page.evaluate("GCMobile.flush()")
        wait_until(lambda: page.evaluate("GCMobile.queued()") == 0, 10, "queue of 0")
        assert len([c for c in cases(server.url) if c["description"] == "浏览器测试：离线上报"]) == 1
        # the server stores the report but the answer is lost: the retry (same key) gets the same case
        lost = {"n": 0}

        def drop_answer(route):
            if route.request.method == "POST" and lost["n"] == 0:
                lost["n"] += 1
                route.fetch()  # reaches the server …
                route.abort("connectionreset")  # … but the phone never hears back
            else:
                route.continue_()

        page.route("**/api/v1/cases", drop_answer)
        fill_report(page, "浏览器测试：应答丢失", after=False)
        page.click("#m-escalate")
        wait_until(lambda: page.evaluate("GCMobile.queued()") == 1 and lost["n"] == 1, 10, "the lost answer")
        page.wait_for_timeout(300)
        assert page.evaluate("GCMobile.queued()") == 1  # the phone still holds it …
        assert len([c for c in cases(server.url) if c["description"] == "浏览器测试：应答丢失"]) == 1
        page.evaluate("GCMobile.flush()")
        wait_until(lambda: page.evaluate("GCMobile.queued()") == 0, 10, "queue of 0")
        assert lost["n"] == 1
        assert len([c for c in cases(server.url) if c["description"] == "浏览器测试：应答丢失"]) == 1
        watch.errors = [e for e in watch.errors if "ERR_CONNECTION_RESET" not in e and "ERR_INTERNET" not in e]
        watch.assert_clean()
    finally:
        ctx.close()


def test_patrol_sends_positions(browser, server):
    lat, lon, grid_id = grid_center(server.url, "W0003")
    ctx, page, watch = open_m(browser, server.url, lat, lon)
    try:
        sign_in(page, "W0003")
        page.click("#m-tab-patrol")
        page.click("#m-patrol-toggle")
        page.wait_for_function("() => GCMobile.state().patrolling === true")
        ctx.set_geolocation({"latitude": lat + 0.0003, "longitude": lon + 0.0002, "accuracy": 5})
        page.wait_for_timeout(600)
        page.evaluate("GCMobile.sendFixes()")
        page.wait_for_function("() => GCMobile.state().fixesSent >= 1", timeout=10000)
        me = page.evaluate("GCMobile.state().me")
        snap = requests.get(f"{server.url}/api/v1/snapshot", timeout=10).json()
        row = next(w for w in snap["workers"] if w[0] == me)
        assert row[3] == "patrolling" and row[1] is not None and abs(row[1] - lat) < 0.001
        page.click("#m-patrol-toggle")
        page.wait_for_function("() => GCMobile.state().patrolling === false")
        assert "m-primary" in page.get_attribute("#m-patrol-toggle", "class")
        watch.assert_clean()
    finally:
        ctx.close()



def test_a_task_dispatched_while_the_live_snapshot_loads_appears(browser, server):
    """GCLive holds pushed batches until its snapshot arrives and then drops those the snapshot already counts.
    The phone draws its tasks from its own list, not the snapshot: a task dispatched after the sign-in's list
    was read but before the snapshot answered was pushed, dropped and never shown. The snapshot is held back
    here (as a slow network would) while the centre dispatches; the task must appear without a reload."""
    lat, lon, _grid = grid_center(server.url, "W0007")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
                              permissions=["geolocation"], locale="zh-CN")
    page = ctx.new_page()
    held: list = []
    page.route("**/api/v1/snapshot*", lambda route: held.append(route))
    lists = {"asked": 0, "read": 0}  # the phone's reads of its task list
    page.on("request", lambda r: lists.update(asked=lists["asked"] + ("/api/v1/me/tasks" in r.url)))
    page.on("requestfinished", lambda r: lists.update(read=lists["read"] + ("/api/v1/me/tasks" in r.url)))
    try:
        page.goto(server.url + "/m")
        sign_in(page, "W0007")
        page.click("#m-tab-tasks")
        wait_until(lambda: held, what="the phone asking for its live snapshot")
        page.wait_for_function("() => GCLive.socket() && GCLive.socket().connected")
        page.wait_for_timeout(500)  # a read of the list that the connection itself asks for has begun
        wait_until(lambda: lists["read"] >= 1 and lists["read"] == lists["asked"], what="the task list read")
        desk = demo_http(server.url)
        cid = desk.post(f"{server.url}/api/v1/cases", json={"category_code": "0101", "description": "快照前派遣",
                                                            "lat": lat, "lon": lon}, timeout=10).json()["id"]
        me = page.evaluate("GCMobile.state().me")
        assert desk.post(f"{server.url}/api/v1/cases/{cid}/actions/dispatch", json={"worker_id": me},
                         timeout=10).status_code == 200
        task = f"li.m-task[data-case-id='{cid}']"
        page.wait_for_timeout(1500)  # the push has arrived and waits behind the snapshot
        assert page.query_selector(task) is None
        for route in held:
            route.continue_()
        page.wait_for_selector(task, timeout=15000)
    finally:
        ctx.close()
