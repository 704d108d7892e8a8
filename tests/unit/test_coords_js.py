"""GCJ-02 in the browser (dashboard/assets/09-gc-geo.js) equals GCJ-02 in Python (dashboard/geo/coords.py).

Both sides are computed here, at test time: the same points go through coords.py and, in a `node` process,
through the page script itself. Published pairs, a dense sample of China, Xi'an's street and the edges of the
box where GCJ-02 applies; forward and inverse; ≤ 1e-9° apart.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dashboard.geo import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02

ROOT = Path(__file__).resolve().parents[2]
GEO_JS = ROOT / "dashboard" / "assets" / "09-gc-geo.js"
TOL_DEG = 1e-9

NODE_EVAL = """
const GCGeo = require(process.argv[1]);
const pts = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({
  gcj: pts.map((p) => GCGeo.wgsToGcj(p[0], p[1])),
  wgs: pts.map((p) => GCGeo.gcjToWgs(p[0], p[1])),
}));
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is missing: scripts/test.sh installs it (Debian's nodejs) before the suite")
        pytest.skip("node is not installed (scripts/test.sh installs it)")
    return node


def _points() -> np.ndarray:
    rng = np.random.default_rng(20261206)
    published = [(31.1774276, 121.5272106), (22.543847, 113.912316), (39.911954, 116.377817)]
    china = np.column_stack([rng.uniform(18.0, 53.0, 3000), rng.uniform(74.0, 134.0, 3000)])
    xian = np.column_stack([rng.uniform(34.25, 34.29, 500), rng.uniform(108.93, 108.98, 500)])  # the street
    edges = [(0.8293, 100.0), (0.8294, 100.0), (55.8271, 100.0), (55.8272, 100.0), (30.0, 72.004),
             (30.0, 72.0041), (30.0, 137.8347), (30.0, 137.8348), (48.8566, 2.3522), (-33.86, 151.2)]
    return np.vstack([published, china, xian, edges])


def test_js_gcj02_equals_python_both_ways():
    pts = _points()
    out = subprocess.run([_node(), "-e", NODE_EVAL, str(GEO_JS)], input=json.dumps(pts.tolist()), text=True,
                         capture_output=True, timeout=60, check=True)
    js = json.loads(out.stdout)
    js_gcj, js_wgs = np.asarray(js["gcj"]), np.asarray(js["wgs"])
    py_gcj = np.column_stack(wgs84_to_gcj02(pts[:, 0], pts[:, 1]))
    py_wgs = np.column_stack(gcj02_to_wgs84(pts[:, 0], pts[:, 1]))
    assert js_gcj.shape == py_gcj.shape == pts.shape
    worst = np.abs(js_gcj - py_gcj).max(), np.abs(js_wgs - py_wgs).max()
    assert worst[0] <= TOL_DEG and worst[1] <= TOL_DEG, f"JS and Python differ by {worst} deg"
    # not a do-nothing on both sides: inside China every point moved, by tens to hundreds of metres
    inside = slice(0, 3503)
    moved = haversine_m(pts[inside, 0], pts[inside, 1], js_gcj[inside, 0], js_gcj[inside, 1])
    assert moved.min() > 10.0 and np.median(moved) > 200.0
