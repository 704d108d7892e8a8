"""The served plotly.js bundle is the version the plotly Python package builds figures for."""
from __future__ import annotations

import re
from pathlib import Path

import plotly

from layouts.app import PLOTLY_BUNDLE


def _version(path: Path) -> str:
    head = path.read_bytes()[:400].decode("utf-8", "replace")
    m = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", head)
    assert m, f"no plotly.js version in the head of {path}"
    return m.group(1)


def test_partial_bundle_matches_the_python_packages_plotly_js():
    packaged = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert _version(PLOTLY_BUNDLE) == _version(packaged), (
        "plotly was upgraded: rebuild scripts/plotly-bundle at the new plotly.js version (see its README)")


def test_partial_bundle_names_no_outside_host():
    """Basemap presets, icon/topojson CDNs and help links are built out (scripts/plotly-bundle/offline.js): the code
    part may hold only XML namespace names (identifiers, never fetched); licence notices follow it."""
    text = PLOTLY_BUNDLE.read_text(encoding="utf-8")
    code = text.split("/*! Bundled license information:")[0]
    urls = set(re.findall(r"https?://[^\s\"'`<>)\]]+", code))
    namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/2000/xmlns/", "http://www.w3.org/1999/xlink",
                  "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/1999/xhtml"}
    assert urls <= namespaces, sorted(urls - namespaces)
    for host in ("cartocdn", "openstreetmap.org", "arcgisonline", "icgc.cat", "jsdelivr", "openmaptiles"):
        assert host not in code, host
