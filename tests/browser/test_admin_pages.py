"""Administration on screen (issue 28): the first sign-in sets a password, /admin makes a dispatcher and a wall's
display token, the wall opens with it and falls back to the sign-in page once it is revoked."""
from __future__ import annotations

import re

import pytest
import requests

pytestmark = pytest.mark.browser
SHOTS = __import__("os").environ.get("GC_TEST_SHOTS")  # set to a directory to keep screenshots while working on the page


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def _first_admin(srv) -> tuple[str, str]:
    m = re.search(r"created admin '([^']+)' with one-time password (\S+)", srv.log())
    assert m, "the first run must print the admin's one-time password"
    return m.group(1), m.group(2)


def _sign_in(page, username: str, password: str) -> None:
    page.fill("#gc-login-username", username)
    page.fill("#gc-login-password", password)
    page.click("#gc-login-submit")


def test_fresh_admin_changes_password_makes_a_dispatcher_and_a_display_token_then_revokes_it(pages, live_server,
                                                                                                browser):
    srv = live_server("--no-sim", env={"GC_DEMO": "0"})
    username, one_time = _first_admin(srv)

    page, watch = pages(srv.url + "/admin", wait_for="#gc-login-form")
    _sign_in(page, username, one_time)
    # made to change the one-time password before any page: /admin is not shown yet
    page.wait_for_selector("#gc-password-form", timeout=30000)
    assert "/password" in page.url and "next=%2Fadmin" in page.url
    # another page is not reachable either, by address or through the API
    assert page.evaluate("() => fetch('/api/v1/users').then(r => r.status)") == 403
    rules = lambda: {li.get_attribute("data-rule"): li.get_attribute("class")  # noqa: E731
                     for li in page.query_selector_all("#gc-password-rules li")}
    page.fill("#gc-password-old", one_time)
    page.fill("#gc-password-new", "12345")
    assert rules()["length"] == "bad" and rules()["digits"] == "bad"  # shown as they type
    new_password = "Gr1d-command-" + one_time[:4]
    page.fill("#gc-password-new", new_password)
    page.fill("#gc-password-repeat", new_password[:-1])
    assert rules()["length"] == "good" and rules()["match"] == "bad"
    _shot(page, "password")
    page.fill("#gc-password-repeat", new_password)
    assert set(rules().values()) == {"good"}
    page.click("#gc-password-submit")
    page.wait_for_url(srv.url + "/admin", timeout=30000)

    # a dispatcher
    page.wait_for_selector("#admin-user-form")
    page.fill("#admin-user-username", "disp1")
    page.fill("#admin-user-display", "值班员一")
    page.select_option("#admin-user-role", "dispatcher")
    page.click("#admin-user-create")
    page.wait_for_selector("#admin-users-table tr[data-user='disp1']")
    disp_password = page.get_attribute("#admin-user-password [data-secret='password']", "data-secret") and \
        page.inner_text("#admin-user-password [data-secret='password']")
    assert len(disp_password) >= 10
    _shot(page, "users")
    # the dispatcher can sign in with it (and is then asked for a password of their own)
    login = requests.post(srv.url + "/auth/login", json={"username": "disp1", "password": disp_password}, timeout=10)
    assert login.status_code == 200 and login.json()["role"] == "dispatcher" and login.json()["must_change_password"]

    # a display token: shown once, with its kiosk URL and a QR code
    page.click("#admin-tab-keys")
    page.wait_for_selector("#admin-key-form")
    page.fill("#admin-key-name", "大厅大屏")
    page.select_option("#admin-key-role", "display")
    page.click("#admin-key-create")
    page.wait_for_selector("#admin-key-shown-qr svg")
    kiosk = page.inner_text("#admin-key-shown [data-secret='kiosk']")
    assert kiosk.startswith(srv.url + "/wall?display_token=gc_")
    assert page.query_selector_all("#admin-key-shown-qr svg path")
    _shot(page, "keys")

    # the wall opens with that token, in a browser that never signed in
    wall_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        wall = wall_ctx.new_page()
        wall.goto(kiosk)
        wall.wait_for_url(srv.url + "/wall", timeout=30000)
        wall.wait_for_selector(".wall-root, #wall-root, .wall-header", timeout=40000)
        assert wall.evaluate("() => fetch('/auth/me').then(r => r.json())")["role"] == "display"

        # revoked on /admin: the wall falls back to the sign-in page at its next load
        page.click("#admin-tab-keys")  # the list again: the wall's use shows
        page.wait_for_function("() => { const r = document.querySelector(\"#admin-keys-table tr[data-key='大厅大屏']\");"
                               " return r && !r.innerText.includes('从未使用'); }", timeout=10000)  # the wall used it
        row = page.locator("#admin-keys-table tr[data-key='大厅大屏']")
        row.locator("button[data-action='revoke']").click()
        page.wait_for_selector("#admin-keys-table tr[data-key='大厅大屏'].admin-off")
        wall.reload()
        wall.wait_for_selector("#gc-login-form", timeout=30000)
        assert "/login?next=%2Fwall" in wall.url
    finally:
        wall_ctx.close()

    # the audit log names what was done
    page.click("#admin-tab-audit")
    page.wait_for_selector("#admin-audit-table tr[data-action='api_key_revoke']")
    page.select_option("#admin-audit-action", "user_create")
    page.click("#admin-audit-search")
    page.wait_for_function("() => document.querySelectorAll('#admin-audit-table tbody tr[data-action]').length === 1")
    assert "新建用户" in page.inner_text("#admin-audit-table tbody") and "user:" in page.inner_text("#admin-audit-table")
    _shot(page, "audit")
    watch.errors = [e for e in watch.errors if "403" not in e]  # the refused /api/v1/users probe above
    watch.assert_clean()


def _admin_session(pages, srv, path: str, *, width: int = 1920, height: int = 1080):
    """A page signed in as the first admin, past the password change (a fresh server each test)."""
    username, one_time = _first_admin(srv)
    from urllib.parse import quote

    # the sign-in page itself: in demo mode a private page opens for the demo operator instead of sending there
    page, watch = pages(srv.url + "/login?next=" + quote(path, safe=""), wait_for="#gc-login-form", width=width,
                        height=height)
    _sign_in(page, username, one_time)
    page.wait_for_selector("#gc-password-form", timeout=30000)
    page.fill("#gc-password-old", one_time)
    page.fill("#gc-password-new", "street admin pass 1")
    page.fill("#gc-password-repeat", "street admin pass 1")
    page.click("#gc-password-submit")
    page.wait_for_url(re.compile(re.escape(srv.url + path.split("?")[0]) + r"(\?.*)?$"), timeout=30000)
    return page, watch


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_admin_tabs_in_english_categories_departments_and_workers(pages, live_server):
    srv = live_server("--no-sim")  # the demo street: categories, communities, workers
    page, watch = _admin_session(pages, srv, "/admin?lang=en&tab=categories")
    page.wait_for_selector("#admin-categories-table tr[data-category]")
    chrome = page.inner_text(".admin-tabs") + page.inner_text("#admin-categories-table thead") + \
        page.inner_text(".console-header").replace("中文", "")  # the language switch names the other language
    assert "Categories" in chrome and "Clock" in chrome and not CJK.search(chrome), chrome
    code = page.get_attribute("#admin-categories-table tr[data-category]", "data-category")
    page.select_option(f"#admin-cat-{code}-clock", "working")
    page.fill(f"#admin-cat-{code}-limit", "36")
    page.click(f"#admin-categories-table tr[data-category='{code}'] button[data-action='save']")
    page.wait_for_function("() => /saved/.test(document.getElementById('admin-message').textContent)")
    cats = {c["code"]: c for c in page.evaluate("() => fetch('/api/v1/categories').then(r => r.json())")["items"]}
    assert cats[code]["clock"] == "working" and cats[code]["time_limit_hours"] == 36
    _shot(page, "categories-en")

    # a department that takes that category shows on the category's row
    page.click("#admin-tab-departments")
    page.wait_for_selector("#admin-dept-form")
    page.fill("#admin-dept-name", "Water works")
    page.fill("#admin-dept-contact", "Mr Li 029-1234")
    page.select_option("#admin-dept-categories", [code])
    page.click("#admin-dept-create")
    page.wait_for_selector("#admin-departments-table tr[data-department='Water works']")
    page.click("#admin-tab-categories")
    page.wait_for_function("(code) => ((document.querySelector(`tr[data-category='${code}']`) || {}).innerText || '')"
                           ".includes('Water works')", arg=code)
    # a bad value is refused on screen in English, naming the field
    page.fill(f"#admin-cat-{code}-limit", "-3")
    page.click(f"#admin-categories-table tr[data-category='{code}'] button[data-action='save']")
    page.wait_for_function("() => document.getElementById('admin-message').classList.contains('error')")
    assert "Deadline" in page.inner_text("#admin-message")

    # workers: a search narrows the list, and pages
    page.click("#admin-tab-workers")
    page.wait_for_selector("#admin-workers-table tr[data-worker]")
    total = page.inner_text("#admin-worker-range")
    first = page.get_attribute("#admin-workers-table tr[data-worker]", "data-worker")
    page.fill("#admin-worker-q", first)
    page.click("#admin-worker-search")
    page.wait_for_function("() => document.querySelectorAll('#admin-workers-table tr[data-worker]').length <= 3")
    assert page.inner_text("#admin-worker-range") != total
    watch.errors = [e for e in watch.errors if "400 (BAD REQUEST)" not in e]  # the refused deadline above
    watch.assert_clean()


def test_a_community_admin_sees_and_acts_in_its_community_only(pages, live_server, browser):
    srv = live_server("--no-sim")
    page, _ = _admin_session(pages, srv, "/admin")
    grids = page.evaluate("() => fetch('/api/v1/grids').then(r => r.json())")["features"]
    comms = sorted({(f["properties"]["community_id"], f["properties"]["community_name"]) for f in grids})
    (ca, name_a), (cb, _) = comms[0], comms[1]
    made = page.evaluate("""async ([ca, cb]) => {
        const post = (body) => fetch('/api/v1/users', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                      body: JSON.stringify(body)}).then(r => r.status);
        return [await post({username: 'adm-a', role: 'admin', password: 'community admin 1', community_id: ca}),
                await post({username: 'disp-b', role: 'dispatcher', password: 'community disp 1', community_id: cb})];
    }""", [ca, cb])
    assert made == [201, 201]

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        a = ctx.new_page()
        a.goto(srv.url + "/login?next=%2Fadmin")
        a.wait_for_selector("#gc-login-form")
        _sign_in(a, "adm-a", "community admin 1")
        a.wait_for_selector("#gc-password-form", timeout=30000)
        a.fill("#gc-password-old", "community admin 1")
        a.fill("#gc-password-new", "my community pass")
        a.fill("#gc-password-repeat", "my community pass")
        a.click("#gc-password-submit")
        a.wait_for_selector("#admin-users-table")
        assert str(ca) in a.inner_text("#admin-scope")
        users = {r.get_attribute("data-user") for r in a.query_selector_all("#admin-users-table tr[data-user]")}
        assert users == {"adm-a"}, users  # not the street's admin, not B's dispatcher
        options = a.eval_on_selector_all("#admin-user-community option", "os => os.map(o => o.value)")
        assert options == [str(ca)]  # no street-wide, no other community
        # what the page would send for another community is refused by the API it calls
        status = a.evaluate("""(cb) => fetch('/api/v1/users', {method: 'POST', headers: {'Content-Type':
            'application/json'}, body: JSON.stringify({username: 'x', role: 'dispatcher', password: 'x long pass 1',
            community_id: cb})}).then(r => r.status)""", cb)
        assert status == 403
        # its own community's dispatcher, from the form
        a.fill("#admin-user-username", "disp-a")
        a.click("#admin-user-create")
        a.wait_for_selector("#admin-users-table tr[data-user='disp-a']")
        # the workers it lists are its community's
        a.click("#admin-tab-workers")
        a.wait_for_selector("#admin-workers-table tr[data-worker]")
        cells = a.eval_on_selector_all("#admin-workers-table tr[data-worker] td:nth-child(4)", "tds => tds.map(t => t.innerText)")
        assert cells and set(cells) == {name_a}, set(cells)
        # the category catalogue is the street's: shown, not editable
        a.click("#admin-tab-categories")
        a.wait_for_selector("#admin-categories-readonly")
        assert a.eval_on_selector_all("#admin-categories-table tbody input, #admin-categories-table tbody select",
                                      "xs => xs.every(x => x.disabled)")
        assert not a.query_selector_all("#admin-categories-table button[data-action='save']")
    finally:
        ctx.close()


@pytest.mark.parametrize("lang,title", [("zh-CN", "页面不存在"), ("en", "Page not found")])
def test_an_unknown_path_shows_the_not_found_page(pages, live_server, lang, title):
    srv = live_server("--no-sim", env={"GC_DEMO": "0"})
    assert requests.get(srv.url + "/nothing/here", timeout=10).status_code == 404
    page, watch = pages(srv.url + f"/nothing/here?lang={lang}", wait_for="#gc-notfound-title")
    assert title in page.inner_text("#gc-notfound-title")
    assert "/nothing/here" in page.inner_text("#gc-notfound-path")
    _shot(page, f"404-{lang}")
    watch.errors = [e for e in watch.errors if "404" not in e]  # the page itself
    watch.assert_clean()


def test_a_page_whose_data_is_refused_says_why(pages, live_server):
    srv = live_server("--no-sim")
    page, _ = _admin_session(pages, srv, "/console?lang=en")
    page.context.route("**/api/v1/snapshot*", lambda r: r.fulfill(
        status=403, content_type="application/json",
        body='{"error": {"status": 403, "message": "role leader may not do this", "field": null}}'))
    page.reload()
    page.wait_for_selector("#gc-refused", timeout=30000)
    text = page.inner_text("#gc-refused")
    assert "refuses this page's data" in text and "Sign in again" in text
    assert page.eval_on_selector(".console-status", "e => getComputedStyle(e).visibility") == "hidden"
    _shot(page, "refused-en")
    # a refused action (not a read) is the page's own message, not this banner
    page.context.unroute("**/api/v1/snapshot*")
    page.reload()
    page.wait_for_selector(".console-status-connected", timeout=40000)
    page.evaluate("() => fetch('/api/v1/cases/999999/actions/void', {method: 'POST'})")
    page.wait_for_timeout(300)
    assert page.query_selector("#gc-refused") is None


def test_the_call_page_searches_workers_of_the_caller_s_community(pages, live_server, browser):
    srv = live_server("--no-sim")
    page, watch = _admin_session(pages, srv, "/call?lang=en")
    page.wait_for_selector("#call-page-results li[data-worker-id]")
    assert "Video dispatch" in page.inner_text(".console-header")
    first = page.query_selector_all("#call-page-results li[data-worker-id]")
    assert 0 < len(first) <= 20  # not every worker of the street
    assert "type more" in page.inner_text("#call-page-results")
    code = first[3].inner_text().split(" ")[0]
    page.fill("#call-page-worker-search", code)
    page.wait_for_function("(code) => { const li = [...document.querySelectorAll('#call-page-results li')];"
                           " return li.length && li.every(x => x.innerText.startsWith(code)); }", arg=code)
    wid = page.get_attribute("#call-page-results li[data-worker-id]", "data-worker-id")
    page.click("#call-page-results li[data-worker-id]")
    assert page.eval_on_selector("#call-page-worker-select", "e => e.value") == wid  # what the call button reads
    chosen = page.inner_text("#call-page-chosen")
    assert chosen.startswith("Chosen: " + code)
    _shot(page, "call-en")
    watch.assert_clean()

    # a community dispatcher's picker holds its community's workers only
    grids = page.evaluate("() => fetch('/api/v1/grids').then(r => r.json())")["features"]
    ca = min(f["properties"]["community_id"] for f in grids)
    status = page.evaluate("""(ca) => fetch('/api/v1/users', {method: 'POST', headers: {'Content-Type':
        'application/json'}, body: JSON.stringify({username: 'disp-a', role: 'dispatcher', password: 'dispatcher a 1',
        community_id: ca})}).then(r => r.status)""", ca)
    assert status == 201
    ctx = browser.new_context()
    try:
        d = ctx.new_page()
        d.goto(srv.url + "/login?next=%2Fcall")
        d.wait_for_selector("#gc-login-form")
        _sign_in(d, "disp-a", "dispatcher a 1")
        d.wait_for_selector("#gc-password-form", timeout=30000)
        d.fill("#gc-password-old", "dispatcher a 1")
        d.fill("#gc-password-new", "dispatcher a own")
        d.fill("#gc-password-repeat", "dispatcher a own")
        d.click("#gc-password-submit")
        d.wait_for_selector("#call-page-results li[data-worker-id]", timeout=40000)
        shown = {int(x.get_attribute("data-worker-id")) for x in d.query_selector_all("#call-page-results li[data-worker-id]")}
        mine = d.evaluate("() => fetch('/api/v1/workers?page_size=1000').then(r => r.json())")["items"]
        assert {w["community_id"] for w in mine} == {ca}
        assert shown <= {w["id"] for w in mine}
    finally:
        ctx.close()


def test_worker_import_preview_row_errors_then_import_and_edit(pages, live_server, tmp_path):
    srv = live_server("--no-sim")
    page, watch = _admin_session(pages, srv, "/admin?tab=workers")
    page.wait_for_selector("#admin-workers-table tr[data-worker]")
    ws = page.evaluate("() => fetch('/api/v1/workers?page_size=2').then(r => r.json())")["items"]
    grid = ws[0]["grid_code"]
    bad = tmp_path / "workers.csv"
    bad.write_text("worker_code,name,phone,device_id,grid_code\n"
                   f"NEW-1,新人一,13700000001,NEWDEV1,{grid}\n"
                   f"NEW-2,,13700000002,NEWDEV2,{grid}\n"
                   "NEW-3,新人三,13700000003,NEWDEV3,NO-SUCH-GRID\n", encoding="utf-8")
    page.click("#admin-worker-import summary")
    page.set_input_files("#admin-worker-import-file", str(bad))
    page.click("#admin-worker-import-check")
    page.wait_for_selector("#admin-worker-import-table tr[data-line='3']")
    assert "错误 2" in page.inner_text("#admin-worker-import-counts")
    assert "名称: 不能为空" in page.inner_text("#admin-worker-import-table tr[data-line='3']")
    assert "网格代码: 不是已知网格" in page.inner_text("#admin-worker-import-table tr[data-line='4']")
    assert page.is_disabled("#admin-worker-import-apply")  # a file with errors cannot be imported
    assert "null" not in page.inner_text("#admin-worker-import-preview")
    assert page.eval_on_selector("#admin-worker-import-progress", "e => e.value") == 1
    _shot(page, "workers-import-errors")

    good = tmp_path / "workers-ok.csv"
    good.write_text("worker_code,name,phone,device_id,grid_code\n"
                    f"NEW-1,新人一,13700000001,NEWDEV1,{grid}\n", encoding="utf-8")
    page.set_input_files("#admin-worker-import-file", str(good))
    page.click("#admin-worker-import-check")
    page.wait_for_function("() => !document.getElementById('admin-worker-import-apply').disabled")
    assert "新增 1" in page.inner_text("#admin-worker-import-counts")
    assert page.evaluate("() => fetch('/api/v1/workers?q=NEW-1').then(r => r.json())")["total"] == 0
    page.click("#admin-worker-import-apply")
    page.wait_for_function("() => document.getElementById('admin-message').textContent === '已导入'")
    assert page.evaluate("() => fetch('/api/v1/workers?q=NEW-1').then(r => r.json())")["total"] == 1

    # edit: the shift and the device, through PATCH
    page.fill("#admin-worker-q", "NEW-1")
    page.click("#admin-worker-search")
    page.wait_for_selector("#admin-workers-table tr[data-worker='NEW-1']")
    page.click("#admin-workers-table tr[data-worker='NEW-1'] button[data-action='edit']")
    page.select_option("#admin-wedit-shift", "night")
    page.fill("#admin-wedit-device", "NEWDEV1B")
    page.fill("#admin-wedit-service-phone", "029-8888 1234")  # the public number residents' call button dials
    page.click("#admin-worker-save")
    page.wait_for_selector("#admin-workers-table tr[data-worker='NEW-1'] >> text=NEWDEV1B")
    w = page.evaluate("() => fetch('/api/v1/workers?q=NEW-1').then(r => r.json())")["items"][0]
    assert w["shift"] == "night" and w["device_id"] == "NEWDEV1B" and w["service_phone"] == "029-8888 1234"
    watch.errors = [e for e in watch.errors if "422" not in e]
    watch.assert_clean()


def test_grid_import_is_drawn_over_today_s_grids_before_it_replaces_them(pages, live_server, tmp_path):
    import json

    srv = live_server("--no-sim")
    page, watch = _admin_session(pages, srv, "/admin?tab=grids&lang=en")
    page.wait_for_selector("#admin-grid-import")
    grids = page.evaluate("() => fetch('/api/v1/grids').then(r => r.json())")
    g = grids["features"][0]
    comm = g["properties"]["community_code"]
    ring = g["geometry"]["coordinates"][0] if g["geometry"]["type"] == "Polygon" else g["geometry"]["coordinates"][0][0]
    x0, y0 = min(p[0] for p in ring), min(p[1] for p in ring)
    new = {"type": "Feature", "properties": {"code": "ZZ-NEW", "name": "新网格", "community_code": comm},
           "geometry": {"type": "Polygon", "coordinates": [[[x0 - .004, y0], [x0 - .002, y0], [x0 - .002, y0 + .002],
                                                            [x0 - .004, y0 + .002], [x0 - .004, y0]]]}}
    moved = {**g, "properties": {"code": g["properties"]["code"], "name": g["properties"]["name"],
                                 "community_code": comm}}
    f = tmp_path / "grids.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [new, moved]}), encoding="utf-8")
    page.click("#admin-grid-import summary")
    page.set_input_files("#admin-grid-import-file", str(f))
    page.click("#admin-grid-import-check")
    page.wait_for_selector("#admin-grid-map path.admin-map-create[data-code='ZZ-NEW']")
    assert page.query_selector(f"#admin-grid-map path.admin-map-update[data-code='{g['properties']['code']}']")
    assert len(page.query_selector_all("#admin-grid-map path.admin-map-now")) == len(grids["features"])
    counts = page.inner_text("#admin-grid-import-counts")
    assert "1 new, 1 updated" in counts and f"{len(grids['features']) - 1} not in the file" in counts
    _shot(page, "grids-preview-en")
    n = lambda: len(page.evaluate("() => fetch('/api/v1/grids').then(r => r.json())")["features"])  # noqa: E731
    assert n() == len(grids["features"])  # the preview replaced nothing
    page.click("#admin-grid-import-apply")
    page.wait_for_function("() => /Imported/.test(document.getElementById('admin-grid-import-counts').textContent)")
    assert n() == len(grids["features"]) + 1
    watch.assert_clean()


def test_a_device_secret_is_rotated_and_shown_once_and_a_camera_address_replaced(pages, live_server):
    srv = live_server("--no-sim")
    page, watch = _admin_session(pages, srv, "/admin?tab=devices")
    page.wait_for_selector("#admin-devices-table tr[data-device]")
    device = page.get_attribute("#admin-devices-table tr[data-device]", "data-device")
    page.click(f"#admin-devices-table tr[data-device='{device}'] button[data-action='rotate']")
    page.wait_for_selector("#admin-device-shown [data-secret='secret']")
    secret = page.inner_text("#admin-device-shown [data-secret='secret']")
    assert len(secret) >= 32
    page.click("#admin-tab-users")
    page.click("#admin-tab-devices")
    # the tab draws again from its fetch (the old table may still stand a moment): then the secret box is gone
    page.wait_for_selector("#admin-device-shown [data-secret='secret']", state="detached", timeout=30000)
    page.wait_for_selector("#admin-devices-table tr[data-device]")
    assert secret not in page.content()  # shown once
    audit = page.evaluate("() => fetch('/api/v1/audit?action=device_secret_rotate').then(r => r.json())")
    assert audit["total"] == 1 and audit["entries"][0]["target"] == f"device:{device}"

    camera = page.get_attribute("#admin-cameras-table tr[data-camera]", "data-camera")
    row = f"#admin-cameras-table tr[data-camera='{camera}']"
    page.fill(f"{row} input[type=password]", "rtsp://cam:rotated@10.1.2.3/stream")
    page.click(f"{row} button[data-action='save']")
    page.wait_for_function("(c) => document.getElementById('admin-message').textContent.includes(c)", arg=camera)
    assert "rotated@" not in page.content()
    _shot(page, "devices")
    watch.assert_clean()


def test_a_briefing_whose_callbacks_are_refused_says_so(pages, live_server):
    srv = live_server("--no-sim")
    page, _ = _admin_session(pages, srv, "/briefing?lang=en")
    page.context.route(re.compile(r".*/_dash-update-component(\?.*)?$"), lambda r: r.fulfill(
        status=401, content_type="application/json",
        body='{"error": {"status": 401, "message": "sign in first", "field": null}}'))
    page.reload()
    page.wait_for_selector("#gc-refused[data-status='401']", timeout=30000)
    assert "signed out" in page.inner_text("#gc-refused")
