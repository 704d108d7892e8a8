"""Each page loads only its own scripts.

Dash puts every script of ``assets/`` into every page: /m on a phone loaded the wall's, the console's and the
patrol's JavaScript too (~175 KB it never runs). The page scripts below are left out of Dash's list
(``assets_ignore``; Dash still serves them under /assets/) and the index page of each path adds its own, after
Dash's and the shared ones (the same order as before: by file name). Shared by every page: the Socket.IO client,
the CSRF header, GCDom, GCGeo and GCLive. A widget's script goes with every page that places the widget.
"""
from __future__ import annotations

import re
from html import escape
from pathlib import Path

CALL = ("71-call.js",)           # layouts/call_widget.py
DRILL = ("72-drilldown.js",)     # layouts/drilldown.py
COVERAGE = ("73-coverage.js",)   # layouts/coverage_panel.py
GOVERNANCE = ("45-governance.js",)  # layouts/governance_panel.py
WALL = ("30-wall.js", "31-wall-map.js", "32-wall-panels.js", "33-wall-satisfaction.js")

# path → the page scripts its layout needs (the shared ones come with every page)
PAGE_SCRIPTS: dict[str, tuple[str, ...]] = {
    "/wall": WALL + GOVERNANCE + DRILL + COVERAGE + CALL,  # a camera's panel calls its grid's workers
    "/console": ("50-console.js", "51-console-notices.js") + CALL + DRILL + COVERAGE,  # 51: notices (issue 31)
    "/patrol": ("70-patrol.js",) + CALL + DRILL + COVERAGE,
    "/m": ("40-mobile.js", "42-visits.js", "44-mobile-notices.js") + CALL,  # 42: visits, 44: notices (issue 31)
    "/r": ("41-residents.js", "43-resident-notices.js"),  # the residents' page and its grid's notices (issue 31)
    "/call": CALL + ("74-callpage.js",),  # the worker search
    "/briefing": ("60-briefing.js",),
    "/governance": GOVERNANCE,
    "/login": ("06-login.js",),
    "/password": ("07-password.js",),
    "/admin": ("80-admin.js",),
}

PAGE_ONLY = sorted({name for names in PAGE_SCRIPTS.values() for name in names})
# for Dash's assets_ignore: these files are not put into every page
ASSETS_IGNORE = "^(" + "|".join(re.escape(n) for n in PAGE_ONLY) + ")$"


def scripts_for(path: str) -> list[str]:
    """The page scripts of ``path`` in load order (file name order, as Dash loads assets)."""
    return sorted(set(PAGE_SCRIPTS.get((path or "/").rstrip("/") or "/", ())))


def install(app, assets: Path) -> None:
    """Make ``app``'s index page add the scripts of the requested path (a full page load: pages link with <a>)."""
    from flask import request

    base = app.interpolate_index

    def interpolate_index(**kw):
        tags = "".join(f'<script src="{escape(app.get_asset_url(name))}?m={int((assets / name).stat().st_mtime)}">'
                       "</script>" for name in scripts_for(request.path))
        kw["scripts"] = kw.get("scripts", "") + tags
        return base(**kw)

    app.interpolate_index = interpolate_index
