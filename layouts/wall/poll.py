"""/wall-poll — bench only: the wall's ticker, counters and map re-sent by a dcc.Interval(1 s).

Not linked from anywhere; bench/wall_latency.py compares it with the push-driven /wall.
"""
from __future__ import annotations

import json
from typing import Any

from dash import dcc, html

from dashboard.events import latest_messages
from dashboard.services.snapshot import snapshot
from dashboard.services.wall_stats import wall_stats

from .ids import WallPoll
from .map import TRACES, build_map
from .panels import KPIS


def layout(lang: str, query: dict, services):
    return html.Div(id=WallPoll.ROOT, className="wallpoll-root", children=[
        dcc.Interval(id=WallPoll.TICK, interval=1000),
        html.Div(id=WallPoll.KPI),
        dcc.Graph(id=WallPoll.MAP, style={"width": "936px", "height": "700px"}),
        html.Ol(id=WallPoll.TICKER),
    ])


def ticker_items(session, n: int = 60) -> list:
    out = []
    for m in latest_messages(session, ("case", "alert"), limit=n):
        p = m["payload"]
        obj = p.get("case") or p.get("alert") or {}
        text = f"{m['at'][11:19]} {p.get('action')} {obj.get('code') or obj.get('title', '')} {obj.get('description', '')[:60]}"
        out.append(html.Li(text, **{"data-seq": m["seq"]}))
    return out


def base_figure(services, lang: str = "zh-CN") -> dict[str, Any]:
    """The static map as plain JSON, built once per server (the polling page re-sends it every tick)."""
    with services.db.read() as s:
        return json.loads(build_map(s, services.settings, lang).to_json())


def poll_frame(services, base: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Everything the polling page shows: counters, the whole map figure with live layers, the ticker."""
    with services.db.read() as s:
        stats = wall_stats(s)
        snap = snapshot(s)
        items = ticker_items(s)
    cases, ws = snap["cases"], [w for w in snap["workers"] if w[1] is not None and w[3] != "offline"]
    grids = dict(base["data"][TRACES["grids"]])
    grids.update(z=[int(snap["open_by_grid"].get(str(g), 0)) for g in grids["locations"]], zmax=5,
                 colorscale="YlOrRd", marker={"opacity": 0.6})
    data = [grids, *base["data"][1:],
            {"type": "scattermap", "lat": [w[1] for w in ws], "lon": [w[2] for w in ws], "mode": "markers",
             "marker": {"size": 7, "color": "#22c55e"}, "text": [f"#{w[0]} {w[3]}" for w in ws]},
            {"type": "scattermap", "lat": [c["lat"] for c in cases], "lon": [c["lon"] for c in cases],
             "mode": "markers", "marker": {"size": 11, "color": "#ff8a00"},
             "text": [f"{c['code']} {c['description'][:40]}" for c in cases]}]
    kpis = [html.Span(f"{k}: {stats['counters'][k]} ") for k in KPIS]
    return kpis, {"data": data, "layout": base["layout"]}, items
