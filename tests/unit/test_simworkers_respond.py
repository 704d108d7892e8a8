"""Simulated workers answer a person's dispatch (issue 27 item 5): the per-task decision is deterministic for a seed,
and a dispatched case goes accepted → arrived (by GPS) → feedback with an after-photo, or is turned back with a
reason, or is finished after its deadline; a cancelled dispatch is let go of."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from dashboard.geo.distance import haversine_m
from dashboard.models import Case, CasePhoto, Dispatch, Position, Worker
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.simulator import Simulator
from dashboard.simulator_workers import CENTER, DECLINE_REASONS, TROUBLE_SPLIT, decide
from tests.utils.factories import make_district

# Wednesday 2026-11-25, 10:00 Asia/Shanghai (a working day, the day shift out)
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
SPEED = 20.0


def test_the_decision_is_the_same_for_a_seed_and_dispatch():
    assert [decide(7, i) for i in range(200)] == [decide(7, i) for i in range(200)]
    assert [decide(7, i) for i in range(200)] != [decide(8, i) for i in range(200)]


def test_the_mix_of_decisions_follows_the_trouble_share():
    n = 4000
    kinds = Counter(decide(1, i, trouble=0.3).kind for i in range(n))
    assert set(kinds) == {"prompt", "slow_ack", "late", "thin", "decline"}
    assert abs(kinds["prompt"] / n - 0.7) < 0.03
    for kind, share in TROUBLE_SPLIT:
        assert abs(kinds[kind] / n - 0.3 * share) < 0.02, (kind, kinds)
    assert {decide(1, i, trouble=0.0).kind for i in range(500)} == {"prompt"}


def test_what_each_kind_does():
    decisions = [decide(3, i) for i in range(2000)]
    by = {k: [d for d in decisions if d.kind == k] for k in ("prompt", "slow_ack", "late", "thin", "decline")}
    # accepted within a minute or two; the slow ones only after the 15-minute no-acknowledgement rule fired
    assert all(20 <= d.ack_after_s <= 120 for d in by["prompt"] + by["late"] + by["thin"])
    assert all(15 * 60 < d.ack_after_s <= 30 * 60 for d in by["slow_ack"])
    assert all(d.late_by_s >= 5 * 60 for d in by["late"]) and all(d.late_by_s == 0 for d in by["prompt"])
    assert all(d.note in DECLINE_REASONS for d in by["decline"])
    assert all(not d.photo for d in by["thin"]) and all(d.photo for d in by["prompt"] + by["late"])
    assert all(3 * 60 <= d.work_s <= 12 * 60 for d in decisions)
    # rework is redone properly: never turned back, always with a photo
    rework = [decide(3, i, rework=True) for i in range(2000)]
    assert not {d.kind for d in rework} & {"decline", "thin"} and all(d.photo for d in rework)


def test_a_bad_trouble_share_stops_the_start_naming_the_variable():
    from dashboard.config import Settings

    assert Settings.from_env({"GC_SIM_WORKER_TROUBLE": "0"}).sim_worker_trouble == 0.0
    for bad in ("lots", "1.5", "-0.1"):
        with pytest.raises(ValueError, match="GC_SIM_WORKER_TROUBLE"):
            Settings.from_env({"GC_SIM_WORKER_TROUBLE": bad})


@pytest.fixture
def street(app_services):
    _, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        ids = {"workers": [x.id for x in w["workers"]], "grids": [g.id for g in w["grids"]]}
    services.reload_grids()
    return services, ids


def _dispatched(services, ids, seed_for=None):
    """A simulator on the small street (no cases of its own), one tick to put the day shift out, then a case 150 m
    from worker W1 dispatched to W1 by a person. ``seed_for``: pick a seed whose decision for it is that kind."""
    with services.db.read() as s:
        probe = Simulator.from_db(s, seed=1, speed=SPEED, cases_per_day=0)
    probe.sos_per_day = 0
    probe.apply(probe.plan(T0), db=services.db, locator=services.locator, calendar=services.calendar, now=T0)
    w = probe.by_id[ids["workers"][0]]
    lat, lon = w.lat + 150 / 111_320, w.lon
    with services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code="0101", description="楼下暴露垃圾", lat=lat, lon=lon,
                                         source="app"), locator=services.locator, now=T0)
        transition(s, c, "dispatch", actor="调度员小王", worker_id=w.id, calendar=services.calendar, now=T0)
        cid = c.id
        did = s.scalar(select(Dispatch.id).where(Dispatch.case_id == cid))
    seed = 1
    if seed_for is not None:
        seed = next(k for k in range(1, 5000) if decide(k, did, trouble=1.0).kind == seed_for)
    with services.db.read() as s:
        sim = Simulator.from_db(s, seed=seed, speed=SPEED, cases_per_day=0, trouble=0.0 if seed_for is None else 1.0)
    sim.sos_per_day = 0
    for sw in sim.workers:  # the shift already started: carry on from where the probe left the workers
        sw.active, sw.lat, sw.lon, sw.target, sw.next_fix = True, probe.by_id[sw.id].lat, probe.by_id[sw.id].lon, \
            None, T0
    return sim, cid, did, w.id


def _run(sim, services, start, seconds, step=1.0, uploads=None):
    t = start
    while t < start + timedelta(seconds=seconds):
        t += timedelta(seconds=step)
        sim.apply(sim.plan(t), db=services.db, locator=services.locator, calendar=services.calendar, now=t,
                  uploads=uploads)
    return t


def test_a_dispatched_case_is_accepted_reached_by_gps_and_fed_back_with_a_photo(street, tmp_path):
    services, ids = street
    sim, cid, did, wid = _dispatched(services, ids)
    sim.apply(sim.plan(T0), db=services.db, locator=services.locator, calendar=services.calendar, now=T0)
    assert did in sim.responder.tasks and sim.responder.tasks[did].decision.kind == "prompt"
    # 40 real seconds at speed 20 = 13 simulated minutes: accepted in ≤ 2, 150 m in ~2, 3–12 at work
    _run(sim, services, T0, 60, uploads=tmp_path / "uploads")
    with services.db.read() as s:
        c = s.get(Case, cid)
        d = s.get(Dispatch, did)
        w = s.get(Worker, wid)
        tl = [(e.action, e.actor) for e in c.timeline]
        photos = list(s.scalars(select(CasePhoto).where(CasePhoto.case_id == cid)))
        track = s.execute(select(Position.lat, Position.lon).where(Position.worker_id == wid)
                          .order_by(Position.fix_time)).all()
    assert [a for a, _ in tl] == ["report", "dispatch", "acknowledge", "arrive", "feedback"], tl
    assert dict(tl)["acknowledge"] == w.name and dict(tl)["arrive"] == "GPS" and dict(tl)["feedback"] == w.name
    assert c.state == "feedback" and d.state == "done"
    ack_s = (d.acknowledged_at.replace(tzinfo=timezone.utc) - T0).total_seconds() * SPEED
    assert 20 <= ack_s <= 121  # a minute or two of simulated time (ticks are 1 s)
    assert [p.stage for p in photos] == ["after"] and (tmp_path / "uploads" / photos[0].path).is_file()
    # it walked there: its fixes close in on the case and end within the 50 m arrival radius
    dists = [haversine_m(la, lo, c.lat, c.lon) for la, lo in track]
    assert dists[0] > 100 and min(dists) < 50
    assert w.duty_state == "available" and sim.by_id[wid].errand is None  # back on patrol
    assert not sim.responder.tasks


def test_a_worker_turns_a_task_back_with_a_reason(street):
    services, ids = street
    sim, cid, did, wid = _dispatched(services, ids, seed_for="decline")
    _run(sim, services, T0, 15)  # up to 3 simulated minutes at speed 20 = 9 s
    with services.db.read() as s:
        c = s.get(Case, cid)
        last = c.timeline[-1]
        d = s.get(Dispatch, did)
    assert c.state == "reported" and c.level == "community" and d.state == "cancelled"
    assert last.action == "escalate" and last.note in DECLINE_REASONS


def test_a_late_worker_feeds_back_after_the_deadline(street):
    services, ids = street
    sim, cid, did, _ = _dispatched(services, ids, seed_for="late")
    with services.db.read() as s:
        due = s.get(Case, cid).sla_due_at.replace(tzinfo=timezone.utc)
    t = _run(sim, services, T0, 60)
    with services.db.read() as s:
        assert s.get(Case, cid).state == "handling"  # arrived, still working at 10:01 with 14:00 the deadline
    # on to the deadline in coarse steps
    _run(sim, services, t, (due - t).total_seconds() + 40 * 60 / SPEED + 300, step=300)
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert c.state == "feedback", [e.action for e in c.timeline]
        assert c.feedback_at.replace(tzinfo=timezone.utc) > due


def test_a_thin_feedback_has_no_photo_and_rework_is_redone_with_one(street, tmp_path):
    services, ids = street
    sim, cid, did, wid = _dispatched(services, ids, seed_for="thin")
    t = _run(sim, services, T0, 60, uploads=tmp_path / "u")
    with services.db.write() as s:
        c = s.get(Case, cid)
        assert c.state == "feedback" and not c.photos
        transition(s, c, "reject", actor="调度员小王", note="没有处置后照片", now=t)  # the check sends it back
    sim.responder.trouble = 0.0  # the redo goes smoothly (a rework could draw 'late' or 'slow_ack' as well)
    _run(sim, services, t, 60, uploads=tmp_path / "u")
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert [e.action for e in c.timeline][-4:] == ["reject", "acknowledge", "arrive", "feedback"] or \
            [e.action for e in c.timeline][-3:] == ["reject", "acknowledge", "feedback"]  # already on the spot
        assert c.state == "feedback" and c.rework_count == 1 and [p.stage for p in c.photos] == ["after"]


def test_a_redispatched_task_is_let_go_and_the_centers_own_cases_are_left_alone(street):
    services, ids = street
    sim, cid, did, wid = _dispatched(services, ids)
    _run(sim, services, T0, 8)  # accepted (≤ 6 s at speed 20) and walking
    assert sim.by_id[wid].errand is not None
    with services.db.write() as s:
        transition(s, s.get(Case, cid), "redispatch", actor="调度员小王", worker_id=ids["workers"][1],
                   calendar=services.calendar, now=T0 + timedelta(seconds=8))
        c2, _ = report_case(s, CaseReport(category_code="0101", lat=sim.by_id[wid].lat, lon=sim.by_id[wid].lon),
                            locator=services.locator, now=T0)
        transition(s, c2, "dispatch", actor=CENTER, worker_id=wid, calendar=services.calendar, now=T0)
    t = _run(sim, services, T0 + timedelta(seconds=8), 2)
    # W1 let go; W2 took the re-dispatch up; the simulated center's own dispatch is not the responder's
    assert sim.by_id[wid].errand is None
    assert {x.worker_id for x in sim.responder.tasks.values()} == {ids["workers"][1]}
    _run(sim, services, t, 60)
    with services.db.read() as s:
        assert s.get(Case, c2.id).state == "dispatched"


def test_after_a_restart_an_accepted_task_is_walked_to_and_finished(street):
    """The simulator starts (or restarts) with a task its worker already accepted: it walks there and finishes."""
    services, ids = street
    sim, cid, did, wid = _dispatched(services, ids)
    with services.db.write() as s:
        transition(s, s.get(Case, cid), "acknowledge", actor="卢军", now=T0)
    _run(sim, services, T0, 60)
    with services.db.read() as s:
        c = s.get(Case, cid)
        assert [e.action for e in c.timeline] == ["report", "dispatch", "acknowledge", "arrive", "feedback"]
        assert c.timeline[3].actor == "GPS"
