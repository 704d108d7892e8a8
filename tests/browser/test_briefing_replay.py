"""/briefing in Chromium: the page renders on a phone, and dragging the replay slider changes the map."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.browser.conftest import open_page
from tests.utils.briefing_world import NORMAL_DAY, build_world

pytestmark = pytest.mark.browser


def expected_cases(engine, day: date, minute: int) -> int:
    """Cases on the map at ``minute`` of ``day``: from the raw timeline (case_log), independently of the page."""
    start = pd.Timestamp(day).tz_localize("Asia/Shanghai").tz_convert("UTC")
    log = pd.read_sql("SELECT case_id, action, from_state, to_state, at, id FROM case_log", engine)
    log["at"] = pd.to_datetime(log["at"], utc=True, format="mixed")
    log = log[(log["at"] >= start) & (log["at"] < start + pd.Timedelta(days=1))].sort_values(["at", "id"])
    log["m"] = ((log["at"] - start).dt.total_seconds() // 60).astype(int)
    n = 0
    for _, g in log.groupby("case_id"):
        before = g[g["m"] <= minute]
        state = before["to_state"].iloc[-1] if len(before) else (
            None if g["action"].iloc[0] == "report" else g["from_state"].iloc[0])
        n += state is not None and state != "void"
    return n


def drag_to(page, fraction: float) -> int:
    """Drag the slider thumb to ``fraction`` of the track; returns the minute the map now shows."""
    track = page.locator("#brief-replay-slider .dash-slider-track").bounding_box()
    thumb = page.locator("#brief-replay-slider [role=slider]").bounding_box()
    page.mouse.move(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
    page.mouse.down()
    x = track["x"] + track["width"] * fraction
    page.mouse.move(x, track["y"] + track["height"] / 2, steps=12)
    page.mouse.up()
    settle(page)
    return int(page.get_attribute("#brief-replay-map", "data-minute"))


def settle(page) -> None:
    """Wait until the drawn map holds what the page computed for the slider's minute."""
    page.wait_for_timeout(300)
    page.wait_for_function("""() => { const el = document.getElementById('brief-replay-map');
        const gd = el && el.querySelector('.js-plotly-plot');
        return gd && gd.data && String(gd.data[3].lat.length) === el.getAttribute('data-cases')
            && String(gd.data[2].lat.length) === el.getAttribute('data-workers'); }""", timeout=10000)


def map_layers(page) -> dict:
    return page.evaluate("""() => { const gd = document.querySelector('#brief-replay-map .js-plotly-plot');
        return {cases: gd.data[3].lat.length, workers: gd.data[2].lat.length,
                wlat: Array.from(gd.data[2].lat), wlon: Array.from(gd.data[2].lon),
                clock: document.getElementById('brief-replay-clock').textContent}; }""")


def test_dragging_the_replay_slider_changes_the_map(browser, live_server, tmp_path):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'replay.db'}"
    _, services = create_app(make_settings(url, tmp_path))
    migrate(services.db.engine)
    build_world(services, per_day=12)
    engine = services.db.engine
    fixes = pd.read_sql("SELECT worker_id, fix_time, lat, lon FROM position", engine)
    services.shutdown()
    srv = live_server("--no-sim", db_url=url, env={"GC_BRIEF_AT": "off"})

    # the map's code arrives after the day's data (as on a slow link): the first frame must still be drawn
    page, watch = open_page(browser, f"{srv.url}/briefing?day={NORMAL_DAY}", width=390, height=844,
                            wait_for=".gcb-kpi", timeout_ms=30000, slow={"**/async-graph*.js": 3})
    page.wait_for_selector("#brief-replay-map[data-minute]", timeout=20000)
    page.locator("#brief-replay-slider").scroll_into_view_if_needed()
    settle(page)
    at0 = map_layers(page)
    assert at0["clock"] == "00:00" and at0["cases"] == expected_cases(engine, NORMAL_DAY, 0)  # open from earlier days

    seen = []
    for fraction in (0.36, 0.62, 1.0):
        m = drag_to(page, fraction)
        layers = map_layers(page)
        assert layers["clock"] == f"{m // 60:02d}:{m % 60:02d}"
        assert layers["cases"] == expected_cases(engine, NORMAL_DAY, m), (fraction, m)
        assert int(page.get_attribute("#brief-replay-map", "data-cases")) == layers["cases"]
        seen.append((m, layers))
    (m1, l1), (m2, l2), (m3, l3) = seen
    assert 0 < m1 < m2 < m3 and m3 >= 1430
    assert 0 < l1["cases"] <= l2["cases"] and l3["cases"] > 0
    # workers: every marker sits on a real fix of the last 30 minutes; nobody walks at midnight
    fixes["fix_time"] = pd.to_datetime(fixes["fix_time"], utc=True, format="mixed")
    start = pd.Timestamp(NORMAL_DAY).tz_localize("Asia/Shanghai").tz_convert("UTC")
    fixes["m"] = ((fixes["fix_time"] - start).dt.total_seconds() // 60)
    for m, layers in seen:
        window = fixes[(fixes["m"] <= m) & (fixes["m"] >= m - 30)]
        pts = set(zip(window["lat"].round(5), window["lon"].round(5)))
        assert all((round(a, 5), round(b, 5)) in pts for a, b in zip(layers["wlat"], layers["wlon"]))
    assert l3["workers"] == 0
    # the patrol window (08:00–10:00): dragging into it shows walking workers
    patrol_m = int(fixes.loc[(fixes["m"] >= 0) & (fixes["m"] < 1440), "m"].median())
    m = drag_to(page, (patrol_m + 0.5) / 1439)
    assert abs(m - patrol_m) <= 8 and map_layers(page)["workers"] > 0
    # jump to an event: picking the first "closed" event moves the slider to its minute
    # the jump is a dropdown filled by a server callback: typing before its options arrive selects nothing, so
    # pick again (up to three times) until the minute changes
    for _ in range(3):
        page.locator("#brief-replay-jump").click()
        page.keyboard.type("结案")
        page.keyboard.press("Enter")
        try:
            page.wait_for_function("m => document.querySelector('#brief-replay-map').getAttribute('data-minute') !== m",
                                   arg=str(m), timeout=8000)
            break
        except Exception:  # noqa: BLE001 — Playwright's TimeoutError; the assertion below reports a jump that never lands
            page.keyboard.press("Escape")
    settle(page)
    jumped = int(page.get_attribute("#brief-replay-map", "data-minute"))
    assert jumped != m and map_layers(page)["cases"] == expected_cases(engine, NORMAL_DAY, jumped)
    page.screenshot(path=str(tmp_path / "briefing-replay.png"), full_page=True)
    watch.assert_clean()
    page.context.close()
