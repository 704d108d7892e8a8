"""Each 五治 indicator on a small hand-made district, matched against values worked out by hand.

The district (tests/utils/factories.make_district): 3×3 grids G{row}{col}; community 一社区 (c1) is
the left column G00, G10, G20; 二社区 (c2) the other six. Worker W1 lives in G00, W2 in G11.
The day is 2026-11-20 (Asia/Shanghai) at 12:00; "this month" is 2026-11-01 00:00 → end of the 20th.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from dashboard.models import Camera, Case, Place, Position, ResidentCount
from dashboard.models.governance import AccessDevice, GovernanceActivity, LegalStaff, PartyPost
from dashboard.models.residents import ResidentTicket, Visit
from dashboard.services.governance import governance_section
from dashboard.services.governance_indicators import INDICATORS, compute_indicators
from dashboard.services.position_day import backfill
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI)


def at(month: int, day: int, h: int = 10, m: int = 0) -> datetime:
    return datetime(2026, month, day, h, m, tzinfo=SHANGHAI)


@pytest.fixture
def district(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        g = {x.code: x for x in w["grids"]}
        w1, w2 = w["workers"]
        # households: G00 40+60, G01 50; 党员: G00 5, G01 2
        s.add_all([Place(code=f"B{i}", kind="building", name=f"楼{i}", grid_id=g[c].id, households=h)
                   for i, (c, h) in enumerate([("G00", 40), ("G00", 60), ("G01", 50)])])
        s.add(Place(code="CPX", kind="compound", name="院", grid_id=g["G00"].id, households=100))  # not double counted
        s.add_all([ResidentCount(grid_id=g["G00"].id, category="党员", count=5),
                   ResidentCount(grid_id=g["G01"].id, category="党员", count=2),
                   ResidentCount(grid_id=g["G00"].id, category="户籍人口", count=300)])
        s.add_all([PartyPost(code="P1", grid_id=g["G00"].id, member_masked="张*", post="楼栋协管", registered_on=at(10, 1)),
                   PartyPost(code="P2", grid_id=g["G00"].id, member_masked="李*", post="文明劝导", registered_on=at(11, 2)),
                   PartyPost(code="P3", grid_id=g["G00"].id, member_masked="王*", post="文明劝导", registered_on=at(9, 1),
                             active=False),
                   PartyPost(code="P4", grid_id=g["G11"].id, member_masked="赵*", post="矛盾调解", registered_on=at(11, 21)),
                   PartyPost(code="P5", grid_id=g["G12"].id, member_masked="钱*", post="矛盾调解", registered_on=at(11, 3))])
        s.add_all([LegalStaff(code="L1", role="police", name_masked="孙*", grid_id=g["G00"].id),
                   LegalStaff(code="L2", role="lawyer", name_masked="周*", grid_id=g["G10"].id),
                   LegalStaff(code="L3", role="judge", name_masked="吴*", grid_id=g["G11"].id, active=False)])
        s.add_all([Camera(code="C1", name="c1", grid_id=g["G00"].id, lat=0, lon=0),
                   Camera(code="C2", name="c2", grid_id=g["G00"].id, lat=0, lon=0),
                   Camera(code="C3", name="c3", grid_id=g["G11"].id, lat=0, lon=0)])
        s.add_all([AccessDevice(device_id="D1", name="门1", secret="x", grid_id=g["G00"].id, community_id=g["G00"].community_id),
                   AccessDevice(device_id="D2", name="门2", secret="x", grid_id=g["G12"].id,
                                community_id=g["G12"].community_id, active=False)])

        def case(code, grid, created, *, state="closed", closed=None, source="app", reporter=None):
            c = Case(code=code, category_code="0101", grid_id=g[grid].id, community_id=g[grid].community_id,
                     state=state, created_at=created, closed_at=closed, source=source, reporter_worker_id=reporter)
            s.add(c)
            return c

        cx = case("X", "G02", at(11, 14), closed=at(11, 16))
        cz = case("Z", "G02", at(11, 14), closed=at(11, 17))
        cw = case("W", "G00", at(11, 18), closed=at(11, 19))
        cy = case("Y", "G02", at(10, 18), closed=at(10, 20))
        case("OPEN", "G02", at(11, 19), state="dispatched")
        case("R1", "G00", at(11, 20, 9), state="reported", reporter=w1.id)
        case("R2", "G11", at(11, 20, 9), state="reported", source="open311")
        case("R3", "G11", at(11, 19, 9), state="reported", reporter=w2.id)
        s.flush()

        def act(code, kind, dim, grid, started, **kw):
            s.add(GovernanceActivity(code=code, kind=kind, dimension=dim, title=code, grid_id=g[grid].id,
                                     community_id=g[grid].community_id, started_at=started, **kw))

        act("a1", "party_meeting", "party", "G00", at(11, 5))
        act("a2", "sanguan_visit", "law", "G00", at(11, 10))
        act("a3", "legal_education", "law", "G11", at(11, 1, 0, 30))
        act("a4", "moot_court", "law", "G11", at(10, 31, 23, 30))
        act("a5", "civility_practice", "virtue", "G01", at(11, 18), volunteers=4, volunteer_hours=8)
        act("a6", "org_service", "virtue", "G01", at(11, 20, 20), volunteers=2, volunteer_hours=3.5)
        act("a7", "volunteer_service", "virtue", "G00", at(11, 21), volunteers=5, volunteer_hours=10)
        act("a8", "residents_council", "self", "G02", at(11, 15), case_id=cx.id)
        act("a9", "mediation", "self", "G02", at(11, 16), case_id=cy.id)
        # visits (走访): G00 two this month (one in October, one after the day), G01 two
        for i, (grid, when) in enumerate([("G00", at(11, 5)), ("G00", at(11, 20, 9)), ("G00", at(10, 30)),
                                          ("G00", at(11, 21)), ("G01", at(11, 2)), ("G01", at(11, 12))]):
            s.add(Visit(worker_id=w1.id, grid_id=g[grid].id, community_id=g[grid].community_id, whom=f"住户{i}",
                        needs="需求", at=when))
        # residents' answers: X satisfied, Z unsatisfied (G02, c2), W basic (G00, c1); Y's answer was in October
        for i, (cse, grid, answer, when) in enumerate([(cx, "G02", "satisfied", at(11, 17)),
                                                       (cz, "G02", "unsatisfied", at(11, 18)),
                                                       (cw, "G00", "basic", at(11, 19)),
                                                       (cy, "G02", "satisfied", at(10, 21))]):
            s.add(ResidentTicket(case_id=cse.id, token=f"tok{i}", tracking_code=f"T{i}", grid_id=g[grid].id,
                                 community_id=g[grid].community_id, created_at=when, satisfaction=answer,
                                 satisfaction_at=when))
        for grid, h, m in [("G00", 11, 30), ("G00", 11, 50), ("G00", 11, 59), ("G00", 10, 30), ("G11", 11, 40)]:
            s.add(Position(worker_id=w1.id if grid == "G00" else w2.id, fix_time=at(11, 20, h, m),
                           received_at=at(11, 20, h, m), lat=34.26, lon=108.95, grid_id=g[grid].id))
        backfill(s)  # the fixes' per-day rollup, as ingest keeps it
        ids = {c: x.id for c, x in g.items()}
        ids["c1"], ids["c2"] = w["communities"][0].id, w["communities"][1].id
    return services, ids


# key: (c1, c2, street) worked out by hand from the fixture above
EXPECTED = {
    "party_per_100_households": (5.0, 4.0, 4.67),      # 5/100, 2/50, 7/150 (×100)
    "party_posts": (2, 1, 3),                           # P1 P2 | P5 (P3 inactive, P4 after the day)
    "party_activities_month": (1, 0, 1),                # a1
    "legal_staff_per_grid": (0.67, 0.0, 0.22),          # 2/3, 0/6, 2/9 (L3 inactive)
    "legal_visits_month": (1, 1, 2),                    # a2 | a3 (a4 is October)
    "virtue_activities_month": (0, 2, 2),               # a5 a6 (a7 after the day)
    "volunteer_hours_month": (0, 11.5, 11.5),           # 8 + 3.5
    "council_meetings_month": (0, 2, 2),                # a8 a9
    "self_governance_share": (0.0, 50.0, 33.33),        # W | X(settled) Z | 1/3 (Y closed in October)
    "visits_per_100_households_month": (2.0, 4.0, 2.67),  # G00 2 / 100 hh | G01 2 / 50 hh | 4 / 150 (×100)
    "resident_satisfaction_share": (100.0, 50.0, 66.67),  # W basic 1/1 | X yes, Z no 1/2 | 2/3 (Y's was October)
    "sensed_grid_share": (33.33, 16.67, 22.22),         # G00 (cams, D1) of 3 | G11 (C3) of 6 (D2 inactive) | 2/9
    "device_uptime": (100.0, None, 100.0),              # D1 online of D1 | no active device | 1/1
    "app_reports_per_worker": (1.0, 0.0, 0.5),          # R1 / W1 | R3 was yesterday, R2 not from the app
    "app_active_share": (100.0, 100.0, 100.0),          # W1 (fixes, R1) | W2 (a fix at 11:40) | 2/2
}


def test_every_indicator_has_an_expectation():
    assert set(EXPECTED) == {i.key for i in INDICATORS}
    assert {i.dimension for i in INDICATORS} == {"party", "law", "virtue", "self", "smart"}
    assert all(i.formula and i.unit_zh and i.name_zh and i.name_en for i in INDICATORS)


def test_each_indicator_by_community_and_street_and_grid(district):
    services, ids = district
    with services.db.read() as s:
        comm = compute_indicators(s, level="community", day=DAY, now=NOW)
        street = compute_indicators(s, level="street", day=DAY, now=NOW)
        grid = compute_indicators(s, level="grid", day=DAY, now=NOW)
    by_id = {r["id"]: r["values"] for r in comm["rows"]}
    got = {k: (by_id[ids["c1"]][k], by_id[ids["c2"]][k], street["rows"][0]["values"][k]) for k in EXPECTED}
    wrong = {k: (got[k], want) for k, want in EXPECTED.items() if got[k] != pytest.approx(want)}
    assert not wrong, f"(got, expected) per indicator: {wrong}"

    rows = {r["id"]: r["values"] for r in grid["rows"]}
    assert len(rows) == 9
    assert rows[ids["G00"]]["party_per_100_households"] == 5.0
    assert rows[ids["G01"]]["party_per_100_households"] == 4.0
    assert rows[ids["G22"]]["party_per_100_households"] is None   # no households: no value, not 0
    assert rows[ids["G02"]]["self_governance_share"] == 50.0
    assert rows[ids["G11"]]["self_governance_share"] is None      # nothing closed there
    assert rows[ids["G00"]]["sensed_grid_share"] == 100.0 and rows[ids["G01"]]["sensed_grid_share"] == 0.0
    assert rows[ids["G01"]]["app_reports_per_worker"] is None     # no worker lives there
    assert rows[ids["G01"]]["volunteer_hours_month"] == 11.5

    # scores against the default targets; 20 November: 20/30 of the month gone; c1 has 3 grids, c2 6
    scores = {r["id"]: r["scores"] for r in comm["rows"]}
    each = {r["id"]: r["indicator_scores"] for r in comm["rows"]}
    want = {r["id"]: r["expected"] for r in comm["rows"]}
    # law: staff per grid 0.67 vs 0.4 → 100 (capped); visits 1 vs 0.25 × 3 × 2/3 = 0.5 → 100 | 0 → 0; 1 vs 1.0 → 100
    assert want[ids["c1"]]["legal_visits_month"] == 0.5 and want[ids["c2"]]["legal_visits_month"] == 1.0
    assert each[ids["c1"]]["legal_staff_per_grid"] == 100.0 and each[ids["c2"]]["legal_staff_per_grid"] == 0.0
    assert scores[ids["c1"]]["law"] == 100.0 and scores[ids["c2"]]["law"] == 50.0
    # virtue, c2: 2 activities vs 0.8 × 6 × 2/3 = 3.2 → 62.5; 11.5 h vs 20 × 6 × 2/3 = 80 → 14.4; mean 38.45
    assert each[ids["c2"]]["virtue_activities_month"] == 62.5 and each[ids["c2"]]["volunteer_hours_month"] == 14.4
    assert scores[ids["c2"]]["virtue"] == pytest.approx(38.45, abs=0.051) and scores[ids["c1"]]["virtue"] == 0.0
    # one legal-service visit no longer makes a community 100 on 法治 by itself: c2's lacking staff still counts
    # smart, c2: sensed 16.67 vs 80 → 20.8; uptime undefined (left out); reports 0 → 0; app active 100 → 100
    assert each[ids["c2"]]["device_uptime"] is None
    assert scores[ids["c2"]]["smart"] == pytest.approx((20.8 + 0 + 100) / 3, abs=0.051)


def test_next_month_and_the_briefing_section(district):
    services, ids = district
    with services.db.read() as s:
        dec = compute_indicators(s, level="street", day=date(2026, 12, 1), now=NOW.replace(month=12, day=1))
        sec = governance_section(s, DAY, ids["c2"])
        street = governance_section(s, DAY, None)
    assert dec["rows"][0]["values"]["legal_visits_month"] == 0
    assert dec["rows"][0]["values"]["party_posts"] == 4  # registrations persist; P4 now counts
    vals = {i["key"]: i["value"] for i in sec["indicators"]}
    assert vals["volunteer_hours_month"] == 11.5 and vals["council_meetings_month"] == 2
    assert sec["activities_today"] == {"org_service": {"name": "社会组织服务", "count": 1, "participants": 0,
                                                       "volunteer_hours": 3.5}}
    assert {i["key"]: i["value"] for i in street["indicators"]}["self_governance_share"] == 33.33
