"""Each page loads only its own scripts (issue 30 item 12): /m on a phone no longer loads the wall's, the
console's or the patrol's JavaScript; the wall still gets all of its own."""
from __future__ import annotations

import re

import pytest

from layouts import page_scripts
from layouts.app import ASSETS, PAGES, create_dash

WALL_JS = {"30-wall.js", "31-wall-map.js", "32-wall-panels.js"}
OTHER_DESKS = {"50-console.js", "70-patrol.js", "60-briefing.js", "45-governance.js", "72-drilldown.js",
               "73-coverage.js"}


@pytest.fixture
def dash_app(app_services):
    app, services = app_services
    dash = create_dash(app, services)
    assert app.test_client().get("/").status_code == 200  # a first request: Dash lists its assets then
    return app, dash


def scripts_of(dash_app, path: str) -> list[str]:
    """The asset scripts the index page of ``path`` loads, by file name (the page door, which wants a signed-in
    user for most pages, is not what is tested here)."""
    server, dash = dash_app
    with server.test_request_context(path):
        html = dash.index()
    return re.findall(r'<script src="/assets/([^"?]+)', html)


def test_the_phone_page_loads_no_wall_console_or_patrol_script(dash_app):
    got = scripts_of(dash_app, "/m")
    assert "40-mobile.js" in got and "71-call.js" in got and "10-gc-live.js" in got and "09-gc-geo.js" in got
    assert not (WALL_JS | OTHER_DESKS) & set(got), got
    # measured when this came in: /m loaded 98 KB of the assets' 227 KB (the whole 227 KB before)
    loaded = sum((ASSETS / n).stat().st_size for n in got)
    everything = sum(p.stat().st_size for p in ASSETS.glob("*.js"))
    assert loaded <= everything - sum((ASSETS / n).stat().st_size for n in WALL_JS | OTHER_DESKS)


def test_each_page_gets_its_scripts_once_in_file_order_and_no_other_page_s(dash_app):
    for path, own in page_scripts.PAGE_SCRIPTS.items():
        got = scripts_of(dash_app, path)
        page_only = [n for n in got if n in page_scripts.PAGE_ONLY]
        assert page_only == sorted(set(own)), path
        assert len(got) == len(set(got)), path
        assert got.index("10-gc-live.js") < got.index(page_only[0]), path  # shared ones first, as before
    assert WALL_JS <= set(scripts_of(dash_app, "/wall/"))
    assert not set(scripts_of(dash_app, "/")) & set(page_scripts.PAGE_ONLY)


def test_every_asset_script_is_shared_or_belongs_to_a_page_that_exists(dash_app):
    shared = set(scripts_of(dash_app, "/"))
    on_disk = {p.name for p in ASSETS.glob("*.js")}
    assert set(page_scripts.PAGE_ONLY) <= on_disk  # a renamed file is not silently dropped from its page
    assert on_disk == shared | set(page_scripts.PAGE_ONLY)
    assert set(page_scripts.PAGE_SCRIPTS) <= set(PAGES)
