"""Calm alerts (issue 27 item 1, issue 26 item 5): one open alert per rule and subject (a repeat updates it, also
under concurrency); the spike rule against the grid's own history for that hour of the week, with a floor, an
absolute minimum and a ratio, both numbers in the alert; bursts over several grids and overdue storms fold into one
community alert; titles lead with the grid's name, in zh-CN or English; the background pass writes in bounded
batches and a report's acknowledgement stays quick meanwhile."""
from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.models import Alert, Case, Grid
from dashboard.services.alerts import render_text, upsert_alert
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.rules import RuleConfig, run_pass, run_rules
from dashboard.timeutil import SHANGHAI
from tests.utils.factories import make_district

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=SHANGHAI)  # a Monday morning


@pytest.fixture
def world(app_services):
    app, services = app_services
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    with services.db.read() as s:
        grids = {g.code: (g.id, g.centroid_lat, g.centroid_lon, g.name) for g in s.scalars(select(Grid))}
    return app.test_client(), services, grids


def cases(services, grids, grid, when, n=1, cat="0101"):
    gid, lat, lon, _ = grids[grid]
    out = []
    with services.db.write() as s:
        for i in range(n):
            c, _ = report_case(s, CaseReport(category_code=cat, lat=lat, lon=lon, description=f"{grid} {i}"),
                               locator=services.locator, now=when + timedelta(seconds=i))
            out.append(c.id)
    return out


def rules(services, t=NOW, **cfg):
    with services.db.write() as s:
        return run_rules(s, now=t, calendar=services.calendar, config=RuleConfig(**cfg))


def alerts(services, kind, *, state=None):
    with services.db.read() as s:
        q = select(Alert).where(Alert.kind == kind)
        q = q.where(Alert.state != "resolved") if state is None else q.where(Alert.state == state)
        return list(s.scalars(q.order_by(Alert.id)))


def test_a_spike_is_one_alert_that_updates_in_place(world):
    client, services, grids = world
    cases(services, grids, "G11", NOW - timedelta(minutes=40), 5)
    res = rules(services)
    assert res["case_spike"] == 1
    [a] = alerts(services, "case_spike")
    assert a.subject == f"grid:{grids['G11'][0]}" and a.repeat_count == 1 and a.severity == "moderate"
    assert a.title == "网格11 事件激增"  # the grid's name leads; its code is in the detail
    assert a.description == "1 小时 5 件，平时约 1.0 件（网格编码 G11）"  # no history: the floor, not 0.00
    assert rules(services, NOW + timedelta(minutes=1))["case_spike"] == 0  # nothing new: untouched
    assert alerts(services, "case_spike")[0].repeat_count == 1
    # six minutes later, five more cases: the same alert, now 10 cases, severe, count 2, last time moved
    cases(services, grids, "G11", NOW + timedelta(minutes=2), 5)
    later = NOW + timedelta(minutes=6)
    res = rules(services, later)
    assert res["case_spike"] == 0 and res["merged"] == 1
    [b] = alerts(services, "case_spike")
    assert b.id == a.id and b.repeat_count == 2 and b.severity == "severe" and b.last_at == later
    assert b.data["count"] == 10 and "1 小时 10 件" in b.description
    [item] = client.get("/api/v1/alerts").get_json()["items"]
    assert item["count"] == 2 and item["last_at"].startswith("2026-11-30T10:36")
    with services.db.read() as s:  # the wall heard "created" then "updated" for the one alert
        from dashboard.models import Event
        acts = [(e.payload["action"], e.payload["alert"]["id"]) for e in s.scalars(
            select(Event).where(Event.type == "alert").order_by(Event.seq))]
    assert acts == [("created", a.id), ("updated", a.id)]


def test_spike_baseline_is_that_hour_of_the_week_with_a_minimum_and_a_ratio(world):
    _, services, grids = world
    # G11: 1, 1, 2, 1 cases in this hour of the week over the last four Mondays → usual 1.25
    for k, n in ((1, 1), (2, 1), (3, 2), (4, 1)):
        cases(services, grids, "G11", NOW - timedelta(days=7 * k, minutes=20), n)
    # G12: 10 in the same hours → usual 2.5; G01: at this hour nothing usually, but cases at other hours
    for k, n in ((1, 3), (2, 2), (3, 3), (4, 2)):
        cases(services, grids, "G12", NOW - timedelta(days=7 * k, minutes=30), n)
        cases(services, grids, "G01", NOW - timedelta(days=7 * k, hours=5), 6)
    cases(services, grids, "G11", NOW - timedelta(minutes=50), 6)
    cases(services, grids, "G12", NOW - timedelta(minutes=50), 6)   # 6 < 3 × 2.5: a busy grid's usual hour
    cases(services, grids, "G01", NOW - timedelta(minutes=50), 4)   # 4 < the minimum of 5, whatever the ratio
    assert rules(services)["case_spike"] == 1
    [a] = alerts(services, "case_spike")
    assert a.grid_id == grids["G11"][0]
    assert a.description == "1 小时 6 件，平时约 1.2 件（网格编码 G11）"
    assert a.data == {"count": 6, "usual": 1.25, "size": 6}
    # with a lower minimum G01 (usually 0 at this hour: the floor 1.0) spikes too; G12 still does not
    rules(services, NOW + timedelta(minutes=1), spike_min_cases=4)
    assert {x.grid_id for x in alerts(services, "case_spike")} == {grids["G11"][0], grids["G01"][0]}


def test_a_burst_over_many_grids_folds_into_one_community_alert(world):
    client, services, grids = world
    cases(services, grids, "G01", NOW - timedelta(minutes=30), 6)
    rules(services)
    [single] = alerts(services, "case_spike")
    assert single.subject == f"grid:{grids['G01'][0]}"
    for g in ("G11", "G21"):
        cases(services, grids, g, NOW - timedelta(minutes=20), 5)
    cases(services, grids, "G00", NOW - timedelta(minutes=20), 5)  # the other community: its own grid alert
    res = rules(services, NOW + timedelta(minutes=2))
    assert res["case_spike"] == 2 and res["merged"] == 1  # the community alert and G00's; G01's merged
    open_ = alerts(services, "case_spike")
    assert sorted(a.subject.split(":")[0] for a in open_) == ["community", "grid"]
    [comm] = [a for a in open_ if a.subject.startswith("community:")]
    assert comm.title == "二社区 3 个网格事件激增" and sorted(comm.grid_ids) == sorted(
        grids[g][0] for g in ("G01", "G11", "G21"))
    assert comm.description.startswith("1 小时 16 件，平时约 1.0 件：网格01、网格11、网格21")
    [merged] = [a for a in alerts(services, "case_spike", state="resolved")]
    assert merged.id == single.id and merged.resolve_comment == "并入二社区社区告警"
    # a fourth grid of the community joins the same community alert
    cases(services, grids, "G12", NOW + timedelta(minutes=3), 5)
    assert rules(services, NOW + timedelta(minutes=5))["case_spike"] == 0
    [again] = [a for a in alerts(services, "case_spike") if a.subject.startswith("community:")]
    assert again.id == comm.id and again.repeat_count == 2 and len(again.grid_ids) == 4
    # quiet for two windows: resolved by the rule; an operator's resolve is not undone by the same cases
    assert rules(services, NOW + timedelta(hours=2, minutes=10))["cleared"] == 0
    assert alerts(services, "case_spike") == []


def test_an_alert_the_operator_resolved_comes_back_only_when_it_grows(world):
    client, services, grids = world
    cases(services, grids, "G11", NOW - timedelta(minutes=30), 5)
    rules(services)
    [a] = alerts(services, "case_spike")
    assert client.post(f"/api/v1/alerts/{a.id}/resolve", json={"comment": "已核实"}).status_code == 200
    rules(services, NOW + timedelta(minutes=1))
    assert alerts(services, "case_spike") == []
    cases(services, grids, "G11", NOW + timedelta(minutes=2), 1)
    rules(services, NOW + timedelta(minutes=3))
    [b] = alerts(services, "case_spike")
    assert b.id != a.id and b.data["count"] == 6


def test_titles_in_both_languages(world):
    client, services, grids = world
    cases(services, grids, "G11", NOW - timedelta(minutes=30), 6)
    rules(services)
    zh = client.get("/api/v1/alerts").get_json()["items"][0]
    en = client.get("/api/v1/alerts?lang=en").get_json()["items"][0]
    assert zh["title"] == "网格11 事件激增" and en["title"] == "Case spike in 网格11"
    assert en["description"] == "6 cases in 1 h, usually about 1.0 (grid code G11)"
    assert zh["texts"]["en"] == {"title": en["title"], "description": en["description"]}
    assert zh["texts"]["zh-CN"]["description"] == "1 小时 6 件，平时约 1.0 件（网格编码 G11）"
    snap = client.get("/api/v1/snapshot").get_json()["alerts"][0]  # the wall picks its language from texts
    assert set(snap["texts"]) == {"zh-CN", "en"} and snap["count"] == 1


def test_one_open_alert_per_subject_under_concurrency(world):
    _, services, grids = world
    gid = grids["G11"][0]
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def raise_it(n):
        try:
            if services.db.is_sqlite:  # SQLite's writers take turns: both start at once, one waits for the other
                barrier.wait(5)
            with services.db.write() as s:
                if not services.db.is_sqlite:  # PostgreSQL: both transactions open, both insert the same subject
                    barrier.wait(5)
                a, outcome = upsert_alert(s, source="rule", kind="case_spike", severity="moderate", grid_id=gid,
                                          subject=f"grid:{gid}", text_key="alert.text.case_spike",
                                          text_params={"grid": "网格11", "count": n, "usual": "1.0", "hours": "1",
                                                       "code": "G11"}, now=NOW)
                time.sleep(0.3)  # hold the transaction: the other one's insert meets this one's row
                outcomes.append(outcome)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=raise_it, args=(n,)) for n in (5, 6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert not errors, errors
    assert sorted(outcomes) == ["created", "updated"]
    [a] = alerts(services, "case_spike")
    assert a.repeat_count == 2


def test_an_overdue_storm_is_one_alert_per_community(world):
    _, services, grids = world
    t0 = NOW - timedelta(hours=8)
    ids = []
    for g in ("G01", "G11", "G21", "G12", "G00"):
        ids += cases(services, grids, g, t0, 2, cat="0401")  # 2-hour limit
    with services.db.write() as s:
        for cid in ids:
            c = s.get(Case, cid)
            transition(s, c, "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    res = rules(services, street_fold_threshold=100)
    over = alerts(services, "overdue")
    # 二社区: 8 overdue cases → one alert; 一社区: 2 (G00) → one per case
    assert res["overdue_and_warning"] == 3 and len(over) == 3
    [comm] = [a for a in over if a.subject.startswith("community:")]
    assert comm.title == "二社区 8 件案卷超期" and comm.severity == "severe" and comm.case_id is None
    assert sorted(a.subject for a in over if a.subject.startswith("case:")) == sorted(
        f"case:{i}" for i in ids[-2:])
    en = render_text(comm.text_key, comm.text_params, "en")
    assert en[0] == "8 cases overdue in 二社区"
    # closing all of 二社区's cases resolves its community alert
    with services.db.write() as s:
        for cid in ids[:-2]:
            s.get(Case, cid).state = "closed"
    assert rules(services, NOW + timedelta(minutes=1), street_fold_threshold=100)["cleared"] == 0
    assert sorted(a.subject for a in alerts(services, "overdue")) == sorted(f"case:{i}" for i in ids[-2:])


def test_an_overdue_pass_takes_turns_between_its_cases(world, monkeypatch):
    """Under gevent one process serves every connection on one thread: the pass over a city's 50,000 overdue
    cases held them all for up to 0.75 s (a wall's ticker waited). It now calls ``offload.turn`` for each case
    and between its passes over a storm's items (a turn is taken once the loop has been held 4 ms)."""
    from dashboard.services import rules as rules_mod
    from tests.utils.turns import record_turns

    _, services, grids = world
    t0 = NOW - timedelta(hours=8)
    ids = []
    for g in ("G01", "G11", "G21", "G12", "G00"):
        ids += cases(services, grids, g, t0, 3, cat="0401")
    with services.db.write() as s:
        for cid in ids:
            transition(s, s.get(Case, cid), "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    seen = record_turns(monkeypatch, rules_mod)
    rules(services, street_fold_threshold=10)  # 15 overdue over two communities: one street alert
    assert [a.subject for a in alerts(services, "overdue")] == ["street"]
    assert seen["overdue_and_warning"] >= len(ids) == 15, seen  # one per overdue case
    assert seen["make"] >= 3 and seen["fold"] >= 1, seen  # the street summary's passes over the items


def test_a_storm_over_several_communities_is_one_street_alert(world):
    client, services, grids = world
    t0 = NOW - timedelta(hours=8)
    ids = []
    for g in ("G01", "G11", "G00"):
        ids += cases(services, grids, g, t0, 2, cat="0401")
    with services.db.write() as s:
        for cid in ids:
            transition(s, s.get(Case, cid), "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    rules(services)  # 6 overdue cases in two communities, at most the street threshold: 二社区's 4 are one alert
    assert sorted(a.subject.split(":")[0] for a in alerts(services, "overdue")) == ["case", "case", "community"]
    more = cases(services, grids, "G10", t0, 1, cat="0401")
    with services.db.write() as s:
        transition(s, s.get(Case, more[0]), "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    res = rules(services, NOW + timedelta(minutes=1))
    [street] = alerts(services, "overdue")
    assert street.subject == "street" and street.community_id is None
    merged = alerts(services, "overdue", state="resolved")
    assert len(merged) == 3 and {a.resolve_comment for a in merged} == {"并入测试街道告警"}
    assert res["merged"] == 6  # and the same for the seven dispatches nobody accepted (no_ack)
    assert street.title == "测试街道 7 件案卷超期"
    en = client.get("/api/v1/alerts?lang=en").get_json()["items"]
    assert [a["title"] for a in en if a["kind"] == "overdue"] == ["7 cases overdue in 测试街道"]


def test_the_background_pass_writes_in_bounded_batches(world):
    _, services, grids = world
    t0 = NOW - timedelta(hours=8)
    ids = []
    for g in ("G01", "G11", "G00", "G10"):
        ids += cases(services, grids, g, t0, 3, cat="0401")
    with services.db.write() as s:
        for cid in ids:
            transition(s, s.get(Case, cid), "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    sizes, real_write = [], services.db.write

    class Counting:
        def __init__(self, cm):
            self.cm = cm

        def __enter__(self):
            self.s = self.cm.__enter__()
            self.before = self.s.scalar(select(func.count()).select_from(Alert))
            return self.s

        def __exit__(self, *exc):
            sizes.append(self.s.scalar(select(func.count()).select_from(Alert)) - self.before)
            return self.cm.__exit__(*exc)

    services.db.write = lambda **kw: Counting(real_write(**kw))
    try:
        res = run_pass(services.db, now=NOW, calendar=services.calendar,
                       config=RuleConfig(fold_threshold=100, street_fold_threshold=100, batch=4))
    finally:
        services.db.write = real_write
    assert res["overdue_and_warning"] == 12 and res["no_ack"] == 12  # dispatched 8 h ago, never accepted
    assert max(sizes) <= 4 and sum(sizes) == 24, sizes  # 24 alerts, at most 4 per transaction


def test_a_report_is_acknowledged_quickly_during_a_rules_pass(world):
    """Reduced size (400 overdue cases, one per-case alert each: the pass's worst case, no folding); the full-size
    figure is bench/alerts_day.py --storm."""
    client, services, grids = world
    t0 = NOW - timedelta(hours=8)
    gids = [g for g in grids]
    with services.db.write() as s:
        for i in range(400):
            gid, lat, lon, _ = grids[gids[i % len(gids)]]
            c, _ = report_case(s, CaseReport(category_code="0401", lat=lat, lon=lon), locator=services.locator,
                               now=t0 + timedelta(seconds=i))
            transition(s, c, "dispatch", actor="t", worker_id=1, calendar=services.calendar, now=t0)
    gid, lat, lon, _ = grids["G22"]

    def post() -> float:
        t = time.perf_counter()
        r = client.post("/api/v1/cases", json={"category_code": "0101", "lat": lat, "lon": lon,
                                               "description": "巡查发现"})
        assert r.status_code == 201, r.get_json()
        return (time.perf_counter() - t) * 1000

    # the same reports without a pass: what this machine takes anyway (a CI box shared by many is slow)
    quiet = statistics.quantiles([post() for _ in range(40)], n=20)[-1]
    done = threading.Event()
    res = {}

    def background():
        res.update(run_pass(services.db, now=NOW, calendar=services.calendar,
                            config=RuleConfig(fold_threshold=10_000, street_fold_threshold=10_000, batch=100)))
        done.set()

    th = threading.Thread(target=background)
    th.start()
    lat_ms = []
    while not done.is_set() or len(lat_ms) < 20:
        lat_ms.append(post())
        if len(lat_ms) > 400:
            break
    th.join(120)
    assert res["overdue_and_warning"] == 400
    p95 = statistics.quantiles(lat_ms, n=20)[-1]
    # ≤ 250 ms on a machine of its own (the pass adds at most one 50 ms batch to a report's wait); batches of 100
    # without a time bound made it 1.7 s at 1,200 cases. On a loaded box the reports' own time without a pass is added.
    assert p95 <= 250 + max(0.0, quiet - 50), (
        f"report acknowledgement p95 {p95:.0f} ms during the rules pass ({len(lat_ms)} reports), {quiet:.0f} ms "
        "without it")


def test_housekeeping_prunes_old_frames_in_bounded_batches(world):
    from dashboard.models import Event
    from dashboard.services.positions import prune_frames_in_batches

    _, services, _ = world
    now = datetime.now(SHANGHAI)
    with services.db.write() as s:
        for i in range(12):
            s.add(Event(type="positions", payload={}, at=now - timedelta(days=3, minutes=i)))
        for i in range(3):
            s.add(Event(type="positions", payload={}, at=now - timedelta(hours=1)))
    writes, real_write = [], services.db.write

    def counting(**kw):
        writes.append(kw)
        return real_write(**kw)

    services.db.write = counting
    try:
        assert prune_frames_in_batches(services.db, older_than=timedelta(days=2), now=now, batch=5) == 12
    finally:
        services.db.write = real_write
    assert writes == [{"bulk": True}] * 3  # 5 + 5 + 2, each a background write of its own
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "positions")) == 3
