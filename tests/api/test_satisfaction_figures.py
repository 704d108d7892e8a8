"""Residents' satisfaction worked out by hand on a small street, matched against /api/v1/satisfaction, the briefing
and its Excel sheet (issue 31: "Satisfaction figures are computed by hand on a small street in a test and match the
briefing and Excel").

The street is tests/utils/factories.make_district: 一社区 (c1) = G00, G10, G20; 二社区 (c2) = the other six grids.
The briefing's day is 2026-11-25 (Asia/Shanghai), a past day, so the figures do not depend on the clock; its
satisfaction period is the 30 days 2026-10-27 … 2026-11-25. Every time below is local time.

ticket  grid  made         center's first step                  case        resident's answer
T1      G00   11-20 09:00  first_response 09:12      → 12 min   closed      satisfied   11-21
T2      G00   11-21 10:00  registered 10:30, disp. 10:45 → 30   closed      basic       11-22
T3      G10   11-22 08:00  first_response 08:05      →  5 min   reopened    unsatisfied 11-23, reworked
T4      G10   11-24 09:00  nothing yet (awaiting)               reported    —
T5      G01   11-23 14:00  first_response 14:40      → 40 min   closed      satisfied   11-24
T6      G11   11-23 16:00  dispatched 18:00 (no stamp) → 120    closed      —
T7      G11   11-25 09:00  first_response 09:03      →  3 min   dispatched  —
T10     G01   11-24 10:00  first_response 10:20      → 20 min   closed 11-25  basic 11-26 (after the period)
T11     G01   11-24 12:00  first_response 12:30      → 30 min   merged into T5's case (closed): closed
T8      G01   10-20 …      outside the period (before)          closed      satisfied
T9      G01   11-26 …      outside the period (after)
"""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from dashboard.models import Case, Grid, ResidentTicket, Visit
from dashboard.timeutil import SHANGHAI
from tests.api.conftest import make_key

DAY = date(2026, 11, 25)


def at(month: int, day: int, h: int = 10, m: int = 0) -> datetime:
    return datetime(2026, month, day, h, m, tzinfo=SHANGHAI)


# (name, grid, made, first_response, registered, dispatched, state, closed, answer, answered_at, reworked)
TICKETS = [
    ("T1", "G00", at(11, 20, 9), at(11, 20, 9, 12), None, None, "closed", at(11, 20, 15), "satisfied", at(11, 21),
     False),
    ("T2", "G00", at(11, 21, 10), None, at(11, 21, 10, 30), at(11, 21, 10, 45), "closed", at(11, 22), "basic",
     at(11, 22, 12), False),
    ("T3", "G10", at(11, 22, 8), at(11, 22, 8, 5), None, at(11, 22, 9), "dispatched", at(11, 22, 17), "unsatisfied",
     at(11, 23), True),
    ("T4", "G10", at(11, 24, 9), None, None, None, "reported", None, None, None, False),
    ("T5", "G01", at(11, 23, 14), at(11, 23, 14, 40), None, None, "closed", at(11, 23, 18), "satisfied", at(11, 24),
     False),
    ("T6", "G11", at(11, 23, 16), None, None, at(11, 23, 18), "closed", at(11, 24, 9), None, None, False),
    ("T7", "G11", at(11, 25, 9), at(11, 25, 9, 3), None, at(11, 25, 9, 3), "dispatched", None, None, None, False),
    ("T10", "G01", at(11, 24, 10), at(11, 24, 10, 20), None, None, "closed", at(11, 25, 12), "basic", at(11, 26, 9),
     False),
    ("T11", "G01", at(11, 24, 12), at(11, 24, 12, 30), None, None, "void", None, None, None, False),
    ("T8", "G01", at(10, 20, 9), at(10, 20, 9, 5), None, None, "closed", at(10, 21), "satisfied", at(10, 22), False),
    ("T9", "G01", at(11, 26, 9), at(11, 26, 9, 5), None, None, "reported", None, None, None, False),
]

# Worked out by hand from the table above.
# street: reports T1 T2 T3 T4 T5 T6 T7 T10 T11 = 9; response minutes 12 30 5 40 120 3 20 30 → sorted
#   3 5 12 20 30 30 40 120: median = (4th + 5th)/2 = (20 + 30)/2 = 25; p90 = the ⌈0.9 × 8⌉ = 8th = 120; awaiting 1 (T4).
#   closed = T1 T2 T3 (answered, since reopened) T5 T6 T10 T11 (its case merged into T5's, closed) = 7; answered
#   before the period's end T1 T2 T3 T5 = 4 (T10's answer came on 11-26): answered share 4/7 = 0.5714;
#   satisfied share (2 satisfied + 1 basic)/4 = 0.75; rework 1 (T3).
STREET = {"reports": 9, "responded": 8, "awaiting": 1, "response_median_min": 25.0, "response_p90_min": 120.0,
          "closed": 7, "answered": 4, "answered_share": 0.5714, "satisfied": 2, "basic": 1, "unsatisfied": 1,
          "satisfied_share": 0.75, "rework": 1}
# c1 (T1 T2 T3 T4): minutes 12 30 5 → 5 12 30: median 12, p90 the ⌈2.7⌉ = 3rd = 30; closed 3, answered 3 (3/3 = 1.0);
#   satisfied (1 + 1)/3 = 0.6667; rework 1.
C1 = {"reports": 4, "responded": 3, "awaiting": 1, "response_median_min": 12.0, "response_p90_min": 30.0,
      "closed": 3, "answered": 3, "answered_share": 1.0, "satisfied": 1, "basic": 1, "unsatisfied": 1,
      "satisfied_share": 0.6667, "rework": 1}
# c2 (T5 T6 T7 T10 T11): minutes 40 120 3 20 30 → 3 20 30 40 120: median the 3rd = 30, p90 the ⌈4.5⌉ = 5th = 120;
#   closed T5 T6 T10 T11 = 4, answered 1 (T5): 1/4 = 0.25; satisfied 1/1 = 1.0; rework 0.
C2 = {"reports": 5, "responded": 5, "awaiting": 0, "response_median_min": 30.0, "response_p90_min": 120.0,
      "closed": 4, "answered": 1, "answered_share": 0.25, "satisfied": 1, "basic": 0, "unsatisfied": 0,
      "satisfied_share": 1.0, "rework": 0}
# grid G00 (T1 T2): minutes 12 30: median 21, p90 the ⌈1.8⌉ = 2nd = 30; 2 answered of 2 closed, both content
G00 = {"reports": 2, "response_median_min": 21.0, "response_p90_min": 30.0, "answered_share": 1.0,
       "satisfied_share": 1.0, "rework": 0}


@pytest.fixture
def street(district):
    app, services, world = district
    gids = dict(zip(world["grid_codes"], world["grid_ids"]))
    with services.db.write() as s:
        comm = dict(s.execute(select(Grid.code, Grid.community_id)).all())
        made_cases: dict[str, Case] = {}
        for i, (name, grid, made, first, reg, disp, state, closed, answer, answered, rework) in enumerate(TICKETS):
            c = Case(code=f"2026RT{i:05d}", category_code="0601", grid_id=gids[grid], community_id=comm[grid],
                     state=state, source="resident", created_at=made, updated_at=made, registered_at=reg,
                     dispatched_at=disp, closed_at=closed, description=f"居民反映 {name}")
            s.add(c)
            s.flush()
            made_cases[name] = c
            if name == "T11":  # the center folded this report into T5's case (services/duplicates.merge)
                c.merged_into_id = made_cases["T5"].id
            s.add(ResidentTicket(case_id=c.id, token=f"token-{name}", tracking_code=name, grid_id=gids[grid],
                                 community_id=comm[grid], created_at=made, first_response_at=first,
                                 satisfaction=answer, satisfaction_at=answered, reworked=rework))
        w1, w2 = world["worker_ids"]
        # the day's visits: two households and a place, one follow-up promised and made a case
        s.add_all([Visit(worker_id=w1, grid_id=gids["G00"], community_id=comm["G00"], kind="household", whom="王大爷",
                         needs="楼道灯坏了", follow_up="报修楼道灯", at=at(11, 25, 9)),
                   Visit(worker_id=w1, grid_id=gids["G00"], community_id=comm["G00"], kind="place", place="便民超市",
                         opinions="门前停车乱", at=at(11, 25, 15)),
                   Visit(worker_id=w2, grid_id=gids["G11"], community_id=comm["G11"], kind="household", whom="刘阿姨",
                         needs="咨询医保", at=at(11, 25, 16)),
                   Visit(worker_id=w2, grid_id=gids["G11"], community_id=comm["G11"], kind="household", whom="赵叔",
                         needs="无", at=at(11, 24, 16))])  # the day before: not the day's
    c1, c2 = world["community_ids"]
    return app, services, {"c1": c1, "c2": c2, "G00": gids["G00"]}


def _only(figs: dict, want: dict) -> dict:
    return {k: figs[k] for k in want}


def test_figures_match_the_hand_computation(street):
    app, services, ids = street
    c = app.test_client()
    h = {"X-API-Key": make_key(services, "leader")}
    r = c.get(f"/api/v1/satisfaction?day={DAY}", headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["first_day"], body["last_day"], body["days"]) == ("2026-10-27", "2026-11-25", 30)
    assert _only(body["total"], STREET) == pytest.approx(STREET)
    comms = {x["id"]: x for x in body["communities"]}
    assert _only(comms[ids["c1"]], C1) == pytest.approx(C1)
    assert _only(comms[ids["c2"]], C2) == pytest.approx(C2)
    grids = {x["id"]: x for x in body["grids"]}
    assert _only(grids[ids["G00"]], G00) == pytest.approx(G00)
    # one community's figures are that community's row
    one = c.get(f"/api/v1/satisfaction?day={DAY}&community={ids['c2']}", headers=h).get_json()
    assert _only(one["total"], C2) == pytest.approx(C2) and [x["id"] for x in one["communities"]] == [ids["c2"]]
    # a community-bound leader asking for the other community is refused
    h1 = {"X-API-Key": make_key(services, "leader", community_id=ids["c1"])}
    assert c.get(f"/api/v1/satisfaction?day={DAY}&community={ids['c2']}", headers=h1).status_code == 403
    assert c.get(f"/api/v1/satisfaction?day={DAY}&days=0", headers=h).status_code == 400


def test_briefing_and_excel_match(street):
    app, services, ids = street
    c = app.test_client()
    h = {"X-API-Key": make_key(services, "leader")}
    b = c.get(f"/api/v1/briefing?day={DAY}", headers=h).get_json()
    sat = b["satisfaction"]
    assert _only(sat["total"], STREET) == pytest.approx(STREET)
    assert _only({x["id"]: x for x in sat["communities"]}[ids["c1"]], C1) == pytest.approx(C1)
    # visits: 3 on the day (2 households, 1 place), 1 follow-up promised, none made a case yet, 2 workers
    assert {k: b["visits"][k] for k in ("count", "household", "place", "follow_ups", "cases", "workers")} == {
        "count": 3, "household": 2, "place": 1, "follow_ups": 1, "cases": 0, "workers": 2}

    r = c.get(f"/api/v1/briefing/export.xlsx?day={DAY}", headers=h)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["居民满意度"]
    head = [x.value for x in ws[1]]
    rows = [[x.value for x in row] for row in ws.iter_rows(min_row=2)]
    col = {name: head.index(name) for name in head}
    total, one, two = rows[0], rows[1], rows[2]
    assert "2026-10-27" in total[1] and (one[1], two[1]) == ("一社区", "二社区")
    for row, want in ((total, STREET), (one, C1), (two, C2)):
        got = {"reports": row[col["居民反映"]], "response_median_min": row[col["响应中位数（分钟）"]],
               "response_p90_min": row[col["响应90%（分钟）"]], "answered_share": row[col["评价率"]],
               "satisfied_share": row[col["满意率"]], "rework": row[col["不满意返工"]]}
        assert got == pytest.approx({k: want[k] for k in got})
    assert ws.cell(row=2, column=col["满意率"] + 1).number_format == "0.0%"
    g00 = next(r for r in rows if r[0] == "G00")  # then each grid with reports
    assert (g00[col["响应中位数（分钟）"]], g00[col["满意率"]]) == (21.0, 1.0)
    v = wb["走访"]
    assert [x.value for x in v[2]] == [3, 2, 1, 1, 0, 2]
    # the English workbook names the sheet and its columns in English
    en = load_workbook(io.BytesIO(c.get(f"/api/v1/briefing/export.xlsx?day={DAY}&lang=en", headers=h).data))
    assert "Satisfaction" in en.sheetnames and "Closed to their satisfaction" in [x.value for x in en["Satisfaction"][1]]


def test_the_pdf_holds_the_satisfaction_table(street):
    import re

    from pypdf import PdfReader

    app, services, _ = street
    c = app.test_client()
    r = c.get(f"/api/v1/briefing/export.pdf?day={DAY}", headers={"X-API-Key": make_key(services, "leader")})
    assert r.status_code == 200
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages))
    # the street's row: 9 reports, median 25, p90 120, 57.1% rated, 75.0% satisfied, 1 reworked
    assert "居民满意度（近30天）" in text and "合计92512057.1%75.0%1" in text


def test_the_summary_says_it_in_both_languages(street):
    app, services, _ = street
    c = app.test_client()
    h = {"X-API-Key": make_key(services, "leader")}
    zh = c.get(f"/api/v1/briefing?day={DAY}", headers=h).get_json()["summary"]
    assert ("近30天居民反映 9 件，响应时间中位数 25 分钟，办结 7 件中已评价 4 件，满意率（含基本满意）75.0%，"
            "因不满意返工 1 件。") in zh
    assert "当日网格员走访 3 次（入户 2、场所 1），承诺跟进 1 件，已转为事件 0 件。" in zh
    en = c.get(f"/api/v1/briefing?day={DAY}&lang=en", headers=h).get_json()["summary"]
    assert any(p.startswith("Residents made 9 reports in the last 30 days; the median response took 25 min") for p in en)


def test_the_page_section_shows_the_street_communities_and_grids(street):
    """The /briefing section (layouts/briefing_residents.py) from the same figures, in both languages."""
    import json as _json

    from plotly.utils import PlotlyJSONEncoder

    from layouts.briefing_residents import satisfaction_card

    app, services, _ = street
    b = app.test_client().get(f"/api/v1/briefing?day={DAY}",
                              headers={"X-API-Key": make_key(services, "leader")}).get_json()
    zh = _json.dumps(satisfaction_card(b, "zh-CN"), cls=PlotlyJSONEncoder, ensure_ascii=False)
    for text in ("居民满意度（近30天）", "25 分钟", "120 分钟", "75.0%", "57.1%", "一社区", "3/3",
                 "各网格（4 个有居民反映）", "21 分钟"):  # G00 G10 G01 G11 had reports in the period
        assert text in zh, text
    en = _json.dumps(satisfaction_card(b, "en"), cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "Residents' satisfaction (last 30 days)" in en and "25 min" in en and "By grid (4 with" in en


def test_the_summary_without_any_rating_says_none_rated(street):
    """A leader read "of 3 closed, 0 were rated, — to their satisfaction" on a street where no resident had answered
    yet: with nothing rated the sentence says so instead of a dash for the share."""
    from dashboard.services.summary import summary_paragraphs

    app, services, _ = street
    h = {"X-API-Key": make_key(services, "leader")}
    b = app.test_client().get(f"/api/v1/briefing?day={DAY}", headers=h).get_json()
    b["satisfaction"]["total"].update(answered=0, satisfied_share=None)
    zh, en = summary_paragraphs(b, "zh-CN"), summary_paragraphs(b, "en")
    assert any("办结 7 件，尚无居民评价，因不满意返工 1 件。" in p for p in zh)
    assert not any("满意率" in p for p in zh)
    assert any("of 7 closed, none rated yet;" in p for p in en) and not any("—  to" in p or "— to" in p for p in en)
