"""The drill-down on the wall: a click on a grid opens its register, and nothing on it is unmasked."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from tests.browser.patrol_helpers import patient_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]



def raw_personal_data(db_url: str) -> list[str]:
    """Every raw worker/contact name (3+ characters: 2-character names can be parts of place names) and phone."""
    engine = create_engine(db_url)
    with engine.connect() as c:
        rows = list(c.execute(text("SELECT name, phone FROM worker UNION ALL SELECT name, phone FROM contact")))
    engine.dispose()
    return [v for r in rows for v in r if v and (len(v) >= 3 or v.isdigit())]


def test_wall_drilldown_is_masked(patient_server, browser):
    srv = patient_server()  # with the simulator: workers walk, tracks and cases exist
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = ctx.new_page()
        registers = []
        page.on("request", lambda r: registers.append(r.url) if "/register" in r.url else None)
        page.goto(f"{srv.url}/wall")
        page.wait_for_selector("#gc-drill", state="attached", timeout=30000)
        page.wait_for_selector("[data-drilldown] .js-plotly-plot", timeout=30000)
        page.wait_for_timeout(1500)
        # a real click on a grid of the wall map opens the panel
        box = page.locator("[data-drilldown] .js-plotly-plot").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.wait_for_timeout(600)
        page.mouse.move(cx + 3, cy + 2)
        page.wait_for_timeout(600)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_selector("#gc-drill[data-loaded]", state="attached", timeout=15000)
        texts = [page.inner_text("#gc-drill")]
        page.screenshot(path=str(srv.tmp / "wall-drill.png"))
        for gid in (1, 7, 50, 150, 301):  # and a few more through the page's own API
            page.evaluate(f"() => GCDrill.open({gid})")
            page.wait_for_selector(f'#gc-drill[data-loaded="{gid}"]', state="attached", timeout=15000)
            texts.append(page.inner_text("#gc-drill"))
    finally:
        ctx.close()
    assert registers and all("scope=wall" in u for u in registers)
    shown = "\n".join(texts)
    assert re.search(r"1\d\d\*\*\*\*\d{4}", shown)  # phones appear, masked
    assert "*" in shown
    leaked = [v for v in raw_personal_data(srv.db_url) if v in shown]
    assert not leaked, leaked[:5]
