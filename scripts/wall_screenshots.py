"""Screenshots of the wall for docs/ (1920×1080 and 3840×2160), from a fresh demo street with the simulator.

    python scripts/wall_screenshots.py            # writes docs/wall-1920.png and docs/wall-3840.png
    python scripts/wall_screenshots.py --out /tmp --settle 60
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402
from tests.utils.page_client import demo_http  # noqa: E402


def file_reports(srv, n: int) -> None:
    """``n`` reports in a few grids (some grids get several, so the shading shows its range)."""
    import random
    import uuid

    import requests
    from shapely.geometry import shape

    from bench.wall_latency import _category

    rnd = random.Random(7)
    grids = requests.get(srv.url + "/api/v1/grids", timeout=10).json()["features"]
    hot = rnd.sample(grids, 12)
    cat = _category(srv.db_url)
    for i in range(n):
        g = shape(hot[i % len(hot) if i % 3 else 0]["geometry"])
        pt = g.representative_point()
        body = {"category_code": cat, "description": f"演示上报 {i + 1}", "lat": pt.y + rnd.uniform(-5e-5, 5e-5),
                "lon": pt.x + rnd.uniform(-5e-5, 5e-5)}
        demo_http(srv.url).post(srv.url + "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex},
                                timeout=30).raise_for_status()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--settle", type=float, default=45, help="seconds of simulated street before the shot")
    ap.add_argument("--sim-speed", type=float, default=20)
    ap.add_argument("--sim-hour", type=float, default=15, help="the street at this local hour (default 15)")
    ap.add_argument("--query", default="?kiosk=1")
    ap.add_argument("--reports", type=int, default=40,
                    help="reports filed through the API first (at night the simulated street is quiet)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    srv = LiveServer(Path(tempfile.mkdtemp(prefix="wallshot-")), "--sim-speed", str(args.sim_speed),
                     "--sim-hour", str(args.sim_hour)).start(timeout=90)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(srv.url + "/wall" + args.query)
            page.wait_for_function("() => window.GCWall && GCWall.firstFrameAt", timeout=120000)
            file_reports(srv, args.reports)
            page.wait_for_timeout(args.settle * 1000)
            for w, h in ((1920, 1080), (3840, 2160)):
                page.set_viewport_size({"width": w, "height": h})
                page.wait_for_timeout(3000)  # the map follows the new size, the markers repaint
                out = args.out / f"wall-{w}.png"
                page.screenshot(path=str(out))
                print(out)
            browser.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
