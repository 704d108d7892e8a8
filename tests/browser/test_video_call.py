"""Video dispatch in two Chromium contexts with fake camera/microphone: console calls, worker answers."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.browser.patrol_helpers import patient_server  # noqa: F401  (fixture)
from tests.utils.page_client import demo_http

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

WORKER_ID = 1


@pytest.fixture
def media_browser(browser):
    """The session browser (launched with fake media devices); contexts opened here are closed after the test."""
    opened = []
    real_new_context = browser.new_context

    class Tracking:
        def new_context(self, **kw):
            ctx = real_new_context(**kw)
            opened.append(ctx)
            return ctx

    yield Tracking()
    for ctx in opened:
        ctx.close()


def make_case(url: str) -> dict:
    """A case to call about: 发现问题 on a one-stop mouse patrol opens it."""
    tour = demo_http(url).post(f"{url}/api/v1/tours/generate", json={"kind": "community", "community_id": 1,
                                                                     "limit": 1, "dwell_s": 60}).json()
    demo_http(url).post(f"{url}/api/v1/tours/{tour['id']}/start").raise_for_status()
    res = demo_http(url).post(f"{url}/api/v1/tours/{tour['id']}/stops/0", json={"result": "issue", "note": "视频核实"})
    res.raise_for_status()
    return res.json()["case"]


def state(page) -> str:
    return page.get_attribute(".gc-call", "data-state")


def answer_and_see_video(callee, caller) -> None:
    """The callee answers; both sides go active and play the other's video."""
    callee.click(".gc-call-action.answer")
    wait_state(callee, "active", 30000)
    wait_state(caller, "active", 30000)
    for page in (caller, callee):
        page.wait_for_function("""() => { const v = document.querySelector('.gc-call video[data-role=remote]');
            return v && v.getVideoPlaybackQuality().totalVideoFrames > 0; }""", timeout=20000)


def wait_state(page, value: str, timeout: float = 20000) -> None:
    page.wait_for_selector(f'.gc-call[data-state="{value}"]', state="attached", timeout=timeout)


def decoded_frames(page) -> int:
    return page.evaluate("""() => { const v = document.querySelector('.gc-call video[data-role=remote]');
        return v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1; }""")


def test_call_connects_plays_both_ways_hangs_up_and_records_decline_and_missed(patient_server, media_browser):
    srv = patient_server("--no-sim")
    case = make_case(srv.url)
    console = media_browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    worker = media_browser.new_context(viewport={"width": 420, "height": 860}).new_page()
    worker.goto(f"{srv.url}/call?worker_id={WORKER_ID}")
    worker.wait_for_function("() => !!(window.GCCall && GCCall.joined())", timeout=20000)
    console.goto(f"{srv.url}/call")
    console.wait_for_selector("#call-page-start")
    console.wait_for_function("() => !!(window.GCLive && GCLive.socket() && GCLive.socket().connected)", timeout=20000)

    # 1. ring → answer → both sides connected, remote video decoding on both ends
    console.fill("#call-page-worker-search", "")  # the picker searches; a click on a result chooses
    console.click(f"#call-page-results li[data-worker-id='{WORKER_ID}']")
    console.fill("#call-page-case", str(case["id"]))
    console.click("#call-page-start")
    wait_state(console, "calling")
    wait_state(worker, "ringing")
    assert "值班员" in worker.inner_text(".gc-call-peer")  # who is calling
    answer_and_see_video(worker, console)
    assert decoded_frames(console) > 0 and decoded_frames(worker) > 0
    console.click(".gc-call-action.mute")
    assert console.get_attribute(".gc-call", "data-muted") == "1"
    assert console.evaluate("() => document.querySelector('.gc-call video[data-role=local]').srcObject"
                            ".getAudioTracks().every(t => !t.enabled)")
    console.screenshot(path=str(srv.tmp / "call-console.png"))
    worker.screenshot(path=str(srv.tmp / "call-worker.png"))
    console.wait_for_timeout(1200)  # a measurable duration

    # 2. hang-up on the console ends both sides
    console.click(".gc-call-action.hangup")
    wait_state(console, "ended")
    wait_state(worker, "ended", 10000)
    assert worker.evaluate("() => document.querySelector('.gc-call video[data-role=remote]').srcObject") is None

    # 3. a declined call ends on both sides and is recorded as declined
    console.wait_for_timeout(300)
    console.click("#call-page-start")
    wait_state(worker, "ringing")
    worker.click(".gc-call-action.decline")
    wait_state(worker, "declined")
    wait_state(console, "declined", 10000)

    # 4. an unanswered call: the caller gives up (what the 30 s ring timeout does) → missed, ringing stops
    console.wait_for_timeout(300)
    console.evaluate(f"() => GCCall.call({WORKER_ID}, {case['id']})")
    wait_state(worker, "ringing")
    console.evaluate("() => GCLive.socket().emit('call_hangup', {call_id: GCCall.callId(), reason: 'missed'})")
    wait_state(worker, "missed", 10000)

    calls = requests.get(f"{srv.url}/api/v1/calls", params={"case_id": case["id"]}).json()["calls"]
    assert [c["state"] for c in calls] == ["missed", "declined", "ended"]
    _, declined, ended = calls
    assert ended["duration_s"] >= 1 and ended["answered_at"] and ended["ended_by"] == "operator"
    assert declined["answered_at"] is None and declined["ended_by"] == "worker"
    assert ended["worker_name"].endswith("*") or "*" in ended["worker_name"]
    timeline = requests.get(f"{srv.url}/api/v1/cases/{case['id']}").json()["timeline"]
    notes = [e["note"] for e in timeline if e["action"] == "video_call"]
    assert len(notes) == 3 and "拒绝" in notes[1] and "无人接听" in notes[2] and "视频通话" in notes[0]


def add_user(db_url: str, username: str, password: str, role: str, worker_id: int | None = None,
             must_change: bool = False) -> None:
    from werkzeug.security import generate_password_hash

    engine = create_engine(db_url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO user_account (username, display_name, password_hash, role, worker_id, active, "
                       "created_at, must_change_password) VALUES (:u, :u, :h, :r, :w, :a, :t, :m)"),
                  {"u": username, "h": generate_password_hash(password), "r": role, "w": worker_id, "a": True,
                   "t": datetime.now(timezone.utc).replace(tzinfo=None), "m": must_change})
    engine.dispose()


def test_without_demo_a_worker_who_signs_in_on_the_page_receives_the_call(patient_server, media_browser):
    """No demo door: the phone page loads signed out, the worker signs in on /m with a password, the widget
    follows the sign-in (its socket reconnects to carry the session) and the dispatcher's call rings and connects."""
    srv = patient_server("--no-sim", env={"GC_DEMO": "0", "GC_SECRET_KEY": "test-secret"})
    add_user(srv.db_url, "disp1", "pw-disp-1", "dispatcher")
    add_user(srv.db_url, "w0001", "pw-worker-1", "worker", WORKER_ID)
    worker_ctx, console_ctx = media_browser.new_context(), media_browser.new_context()
    worker = worker_ctx.new_page()
    worker.goto(f"{srv.url}/m")  # the phone page is public (it signs in by itself); /call is a desk page
    worker.wait_for_selector("#m-signin:not([hidden])")
    assert worker.is_hidden("#m-demo")  # no demo door
    worker.wait_for_timeout(1000)
    assert worker.get_attribute(".gc-call", "data-joined") in (None, "0")
    worker.fill("#m-username", "w0001")
    worker.fill("#m-password", "pw-worker-1")
    worker.click("#m-login-go")
    worker.wait_for_selector("#m-main:not([hidden])")
    worker.wait_for_function("() => !!(window.GCCall && GCCall.joined())", timeout=20000)

    assert console_ctx.request.post(f"{srv.url}/auth/login", data={"username": "disp1",
                                                                   "password": "pw-disp-1"}).ok
    console = console_ctx.new_page()
    console.goto(f"{srv.url}/call")
    console.wait_for_function("() => !!(window.GCLive && GCLive.socket() && GCLive.socket().connected)", timeout=20000)
    console.evaluate(f"() => GCCall.call({WORKER_ID}, null, null, 'W0001')")
    wait_state(worker, "ringing")
    worker.click(".gc-call-action.answer")
    wait_state(console, "active", 30000)
    wait_state(worker, "active", 30000)
    worker.click(".gc-call-action.hangup")
    wait_state(console, "ended", 10000)
    calls = console_ctx.request.get(f"{srv.url}/api/v1/calls?worker_id={WORKER_ID}").json()["calls"]
    assert calls[0]["state"] == "ended" and calls[0]["ended_by"] == "worker" and calls[0]["operator"] == "disp1"


def test_console_calls_the_worker_from_an_sos_alert_on_the_m_page(patient_server, media_browser):
    """The real pages: a worker signed in on /m raises SOS; the dispatcher opens the alert on /console and
    presses 视频通话; the phone rings, answers, both see video; the call is recorded on the alert's worker."""
    srv = patient_server("--no-sim")
    phone = media_browser.new_context(viewport={"width": 412, "height": 860}).new_page()
    phone.goto(f"{srv.url}/m")
    phone.wait_for_selector("#m-signin:not([hidden])", timeout=30000)
    phone.fill("#m-demo-code", "W0001")
    phone.click("#m-demo-go")
    phone.wait_for_function("() => !!(window.GCCall && GCCall.joined())", timeout=30000)
    r = requests.get(f"{srv.url}/osmand", params={"id": "XY422935", "lat": 34.2745, "lon": 108.9532,
                                                 "timestamp": int(time.time()), "alarm": "sos"})
    assert r.status_code == 200, r.text
    desk = media_browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    desk.goto(f"{srv.url}/console")
    desk.wait_for_selector("#console-alerts .console-item", timeout=30000)
    desk.click("#console-alerts .console-item")
    desk.wait_for_selector(".console-gc-tools .gc-call-btn", timeout=15000)
    desk.click(".console-gc-tools .gc-call-btn")
    wait_state(phone, "ringing")
    answer_and_see_video(phone, desk)
    phone.screenshot(path=str(srv.tmp / "m-call.png"))
    desk.screenshot(path=str(srv.tmp / "console-call.png"))
    phone.click(".gc-call-action.hangup")
    wait_state(desk, "ended", 10000)
    calls = requests.get(f"{srv.url}/api/v1/calls", params={"worker_id": WORKER_ID}).json()["calls"]
    assert calls[0]["state"] == "ended" and calls[0]["alert_id"] and calls[0]["ended_by"] == "worker"


def test_a_worker_on_a_one_time_password_changes_it_before_the_phone_page(patient_server, media_browser):
    """Issue 28 item 1 on /m: the phone signs in by itself (no page load between), so the page follows a one-time
    password to /password and comes back to /m signed in with the new one."""
    srv = patient_server("--no-sim", env={"GC_DEMO": "0", "GC_SECRET_KEY": "test-secret"})
    add_user(srv.db_url, "w0001", "one-time-pw-1", "worker", WORKER_ID, must_change=True)
    ctx = media_browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.goto(f"{srv.url}/m?lang=en")
        page.wait_for_selector("#m-signin:not([hidden])")
        page.fill("#m-username", "w0001")
        page.fill("#m-password", "one-time-pw-1")
        page.click("#m-login-go")
        page.wait_for_url("**/password?**", timeout=20000)
        assert "next=%2Fm" in page.url
        assert page.evaluate("() => fetch('/api/v1/me').then(r => r.status)") == 403  # nothing else until then
        page.fill("#gc-password-old", "one-time-pw-1")
        page.fill("#gc-password-new", "Gr1d-worker-2026")
        page.fill("#gc-password-repeat", "Gr1d-worker-2026")
        page.click("#gc-password-submit")
        page.wait_for_url(f"{srv.url}/m**", timeout=30000)
        page.wait_for_selector("#m-main:not([hidden])", timeout=20000)
    finally:
        ctx.close()
