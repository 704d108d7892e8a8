"""Every figure of the briefing against an independent pandas computation on the same database.

The reference reads the tables with ``pandas.read_sql`` and recomputes each figure from the
definitions in dashboard/services/briefing.py and indicators.py, with its own working-hours
arithmetic from the State Council schedule (chinese-calendar): a normal day, an empty day and a holiday.
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta

import chinese_calendar
import pandas as pd
import pytest

from dashboard.services.briefing import briefing
from dashboard.services.summary import summary_text
from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar
from tests.utils.briefing_world import EMPTY_DAY, HOLIDAY_DAY, NORMAL_DAY, NOW, build_world



class Reference:
    """The briefing recomputed from raw tables."""

    def __init__(self, engine) -> None:
        def read(sql: str, dates=()) -> pd.DataFrame:
            df = pd.read_sql(sql, engine)
            for c in dates:
                df[c] = pd.to_datetime(df[c], utc=True, format="mixed")
            return df

        self.cases = read("SELECT * FROM case_file", ["created_at", "dispatched_at", "feedback_at", "closed_at",
                                                      "sla_due_at"])
        self.logs = read("SELECT case_id, action, at FROM case_log", ["at"])
        self.cats = read("SELECT code, major_code, major_name FROM category")
        self.grids = read("SELECT id, code, name, community_id FROM grid")
        self.comms = read("SELECT id, code, name FROM community")
        self.workers = read("SELECT id, name, grid_id, active FROM worker")
        self.pos = read("SELECT worker_id, grid_id, fix_time, lat, lon, accuracy FROM position", ["fix_time"])
        self.patrols = read("SELECT kind, worker_id, started_at, distance_m, grids_covered FROM patrol", ["started_at"])
        self.stops = read("SELECT grid_id, day FROM patrol_stop_log")
        self.alerts = read("SELECT * FROM alert", ["created_at"])
        self.holidays = set(chinese_calendar.holidays)  # the schedule itself, not WorkCalendar's reading of it
        self.makeup = set(chinese_calendar.workdays)

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def bounds(day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
        s = pd.Timestamp(day).tz_localize("Asia/Shanghai").tz_convert("UTC")
        return s, s + pd.Timedelta(days=1)

    def work_hours(self, a: pd.Timestamp, b: pd.Timestamp) -> float:
        a, b = a.tz_convert("Asia/Shanghai"), b.tz_convert("Asia/Shanghai")
        total = 0.0
        for d in pd.date_range(a.normalize(), b.normalize(), freq="D"):
            dd = d.date()
            if not (dd in self.makeup or (dd not in self.holidays and d.weekday() < 5)):
                continue
            for lo, hi in (("08:30", "12:00"), ("14:00", "17:30")):
                s, e = pd.Timestamp(f"{dd} {lo}", tz="Asia/Shanghai"), pd.Timestamp(f"{dd} {hi}", tz="Asia/Shanghai")
                total += max(0.0, (min(e, b) - max(s, a)).total_seconds())
        return total / 3600

    def had_data(self, day: date) -> bool:
        """Anything recorded street-wide that day: a case reported or closed, or a fix."""
        s, e = self.bounds(day)
        c = self.cases
        in_day = lambda t: (t >= s) & (t < e)  # noqa: E731
        return bool(in_day(c["created_at"]).any() or in_day(c["closed_at"]).any()
                    or in_day(self.pos["fix_time"]).any())

    def walked_km(self, pos: pd.DataFrame) -> float:
        """Kilometres walked over the day's fixes, each worker's in time order: fixes worse than 50 m dropped,
        moves under 10 m from the last kept fix ignored, after more than 10 min of silence not counted,
        and moves that need more than 7 m/s dropped (the world's fixes never jump twice)."""
        total = 0.0
        for _, f in pos.sort_values(["worker_id", "fix_time"]).groupby("worker_id"):
            anchor = last = None
            for r in f.itertuples():
                if r.accuracy is not None and not pd.isna(r.accuracy) and r.accuracy > 50:
                    continue
                if anchor is None or (r.fix_time - last).total_seconds() > 600:  # (all fixes: one day)
                    anchor, last = r, r.fix_time
                    continue
                lat1, lat2 = math.radians(anchor.lat), math.radians(r.lat)
                a = (math.sin((lat2 - lat1) / 2) ** 2
                     + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(r.lon - anchor.lon) / 2) ** 2)
                d = 2 * 6371008.8 * math.asin(math.sqrt(a))
                gap = (r.fix_time - last).total_seconds()
                if gap <= 0:  # a second fix of the same instant: nothing walked
                    continue
                if d < 10:
                    last = r.fix_time
                elif (d - 10) / gap <= 7:
                    total, anchor, last = total + d, r, r.fix_time
        return total / 1000

    def valid(self, cid) -> pd.DataFrame:
        c = self.cases[(self.cases["state"] != "void") & self.cases["merged_into_id"].isna()]
        return c if cid is None else c[c["community_id"] == cid]

    @staticmethod
    def rate(a, b):
        return None if b == 0 else a / b

    # --- figures -------------------------------------------------------------------------------
    def kpis(self, day: date, cid, now: pd.Timestamp) -> dict:
        c = self.valid(cid)
        s, e = self.bounds(day)
        rep = c[(c["created_at"] >= s) & (c["created_at"] < e)]
        onsite = int(rep["handled_onsite"].astype(bool).sum())
        closed_in = c["closed_at"].notna() & (c["closed_at"] >= s) & (c["closed_at"] < e) & (c["state"] == "closed")
        due = c["sla_due_at"].notna() & (((c["sla_due_at"] >= s) & (c["sla_due_at"] < e))
                                         | (closed_in & (c["sla_due_at"] >= e)))
        closed_due = due & (c["state"] == "closed") & (c["closed_at"] < e)
        on_time = closed_due & (c["closed_at"] <= c["sla_due_at"])
        handled = c[closed_in & c["dispatched_at"].notna()]
        cut = min(e, now)
        overdue = (c["sla_due_at"] < cut) & (c["closed_at"].isna() | (c["closed_at"] > cut)) if s < now else \
            pd.Series(False, index=c.index)
        hrs = (handled["closed_at"] - handled["dispatched_at"]).dt.total_seconds() / 3600
        whrs = [self.work_hours(d, x) for d, x in zip(handled["dispatched_at"], handled["closed_at"])]
        return {"reported": len(rep), "onsite": onsite, "escalated": len(rep) - onsite, "closed": int(closed_in.sum()),
                "overdue": int(overdue.sum()), "closure_rate": self.rate(int(closed_due.sum()), int(due.sum())),
                "on_time_rate": self.rate(int(on_time.sum()), int(due.sum())),
                "onsite_rate": self.rate(onsite, len(rep)),
                "avg_handling_hours": float(hrs.mean()) if len(hrs) else None,
                "avg_handling_work_hours": sum(whrs) / len(whrs) if whrs else None,
                "due": int(due.sum())}

    def figures(self, day: date, cid, now: pd.Timestamp) -> dict:
        c = self.valid(cid)
        s, e = self.bounds(day)
        rep = c[(c["created_at"] >= s) & (c["created_at"] < e)].copy()
        rep["handled_onsite"] = rep["handled_onsite"].astype(bool)
        m = rep.merge(self.cats, left_on="category_code", right_on="code")
        by_cat = {r.major_code: (r.major_name, r.n, r.o) for r in m.groupby(["major_code", "major_name"]).agg(
            n=("id", "size"), o=("handled_onsite", "sum")).reset_index().itertuples()}
        loc_h = lambda ts: ts.dt.tz_convert("Asia/Shanghai").dt.hour  # noqa: E731
        closed_day = c[(c["closed_at"] >= s) & (c["closed_at"] < e) & (c["state"] == "closed")]
        ys, ye = self.bounds(day - timedelta(days=1))
        rep_y = c[(c["created_at"] >= ys) & (c["created_at"] < ye)]
        esc = rep[~rep["handled_onsite"]]
        funnel = {"reported": len(rep), "onsite": int(rep["handled_onsite"].sum()), "escalated": len(esc),
                  "dispatched": int((esc["dispatched_at"] < e).sum()), "feedback": int((esc["feedback_at"] < e).sum()),
                  "closed": int(((esc["closed_at"] < e) & (esc["state"] == "closed")).sum())}
        grids = self.grids if cid is None else self.grids[self.grids["community_id"] == cid]
        hot = rep.groupby("grid_id").size().rename("n").reset_index().merge(grids, left_on="grid_id", right_on="id")
        hot = hot.sort_values(["n", "code"], ascending=[False, True]).head(10)
        cut = min(e, now)
        od = c[(c["sla_due_at"] < cut) & (c["closed_at"].isna() | (c["closed_at"] > cut))].sort_values(
            ["sla_due_at", "id"]) if s < now else c.iloc[0:0]
        # communities
        comms = self.comms if cid is None else self.comms[self.comms["id"] == cid]
        per_comm = {}
        for r in comms.itertuples():
            k = self.kpis(day, r.id, now)
            per_comm[r.code] = (k["due"], k["closure_rate"], k["on_time_rate"])
        # workers and coverage
        gid = set(grids["id"])
        wk = self.workers[self.workers["active"].astype(bool)]
        if cid is not None:
            wk = wk[wk["grid_id"].isin(gid)]
        pos = self.pos[(self.pos["fix_time"] >= s) & (self.pos["fix_time"] < e)]
        pat = self.patrols[(self.patrols["started_at"] >= s) & (self.patrols["started_at"] < e)]
        covered = lambda p: [int(g) for g in (json.loads(p) if isinstance(p, str) else p or [])]  # noqa: E731
        foot = set(pos["grid_id"].dropna().astype(int))
        mouse = set(self.stops.loc[pd.to_datetime(self.stops["day"]).dt.date == day, "grid_id"])
        for kind, gc in zip(pat["kind"], pat["grids_covered"]):
            (mouse if kind == "mouse" else foot).update(covered(gc))
        foot, mouse = foot & gid, mouse & gid
        wids = set(wk["id"])
        fixes_w = pos[pos["worker_id"].isin(wids)].groupby("worker_id").size()
        reps_w = rep[rep["reporter_worker_id"].isin(wids)].groupby("reporter_worker_id").size()
        active = set(fixes_w.index) | set(reps_w.index)
        foot_p = pat[(pat["kind"] == "foot") & pat["worker_id"].isin(wids)]
        al = self.alerts[(self.alerts["created_at"] >= s) & (self.alerts["created_at"] < e)
                         & (self.alerts["channel"] == "actual")]
        if cid is not None:
            al = al[al["community_id"] == cid]
        sev = {"extreme": 0, "severe": 1, "moderate": 2, "minor": 3}
        al_top = al.assign(o=al["severity"].map(sev)).sort_values(["o", "created_at", "id"]).head(10)
        return {
            "by_category": by_cat,
            "hourly": {"reported": loc_h(rep["created_at"]).value_counts().reindex(range(24), fill_value=0).tolist(),
                       "closed": loc_h(closed_day["closed_at"]).value_counts().reindex(range(24), fill_value=0).tolist(),
                       "reported_yesterday": loc_h(rep_y["created_at"]).value_counts().reindex(
                           range(24), fill_value=0).tolist() if self.had_data(day - timedelta(days=1)) else None},
            "funnel": funnel, "communities": per_comm,
            "hot_grids": [(r.code, int(r.n)) for r in hot.itertuples()],
            "overdue_codes": od["code"].tolist()[:50],
            "workers": {"workers": len(wk), "active": len(active), "fixes": int(fixes_w.sum()),
                        "reports": int(reps_w.sum()), "foot_patrols": len(foot_p),
                        "patrol_km": round(self.walked_km(pos[pos["worker_id"].isin(wids)]), 2)},
            "coverage": {"grids": len(gid), "foot": len(foot), "mouse": len(mouse), "any": len(foot | mouse),
                         "unvisited": sorted(grids.loc[~grids["id"].isin(foot | mouse), "code"])},
            "alerts": {"count": len(al), "unresolved": int((al["state"] != "resolved").sum()),
                       "by_kind": al["kind"].value_counts().sort_index().to_dict(),
                       "notable": al_top["id"].tolist()},
        }


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request, tmp_path_factory):
    """One world per backend for the whole module (the tests only read it)."""
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import fresh_pg_database, make_settings, pg_available

    tmp = tmp_path_factory.mktemp("briefing")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'test.db'}"
    else:
        why = pg_available()
        if why:
            pytest.skip(why)
        url, drop = fresh_pg_database()
    _, services = create_app(make_settings(url, tmp))
    migrate(services.db.engine)
    build_world(services)
    yield services
    services.shutdown()
    if drop:
        drop()


def check(services, day: date, cid) -> dict:
    now = pd.Timestamp(NOW).tz_convert("UTC")
    with services.db.read() as s:
        b = briefing(s, day=day, community_id=cid, calendar=WorkCalendar.official(), now=NOW)
    ref = Reference(services.db.engine)
    # KPIs, each against the day, yesterday and the same weekday a week earlier
    for col, d in (("value", day), ("yesterday", day - timedelta(days=1)), ("last_week", day - timedelta(days=7))):
        exp = ref.kpis(d, cid, now)
        if col != "value" and not ref.had_data(d):  # nothing recorded that day: no figure to compare with
            exp = dict.fromkeys(exp)
        assert col == "value" or b["compare"][col] == ref.had_data(d)
        for k in b["kpis"]:
            assert close(k[col], exp[k["key"]]), (d, col, k["key"], k[col], exp[k["key"]])
    f = ref.figures(day, cid, now)
    assert {c["major_code"]: (c["major_name"], c["reported"], c["onsite"]) for c in b["by_category"]} == f["by_category"]
    assert b["hourly"] == f["hourly"]
    assert b["funnel"] == f["funnel"]
    got = {c["code"]: (c["due"], c["closure_rate"], c["on_time_rate"]) for c in b["communities"]}
    assert got.keys() == f["communities"].keys()
    for code, (due, cr, otr) in f["communities"].items():
        assert got[code][0] == due and close(got[code][1], cr) and close(got[code][2], otr), code
    assert [(g["code"], g["reported"]) for g in b["hot_grids"]] == f["hot_grids"]
    assert [o["code"] for o in b["overdue"]] == f["overdue_codes"]
    assert {k: b["workers"][k] for k in f["workers"]} == f["workers"]
    cov = b["coverage"]
    assert {k: cov[k] for k in ("grids", "foot", "mouse", "any")} == {k: f["coverage"][k] for k in
                                                                       ("grids", "foot", "mouse", "any")}
    assert sorted(u["code"] for u in cov["unvisited"]) == f["coverage"]["unvisited"]
    assert cov["unvisited_count"] == len(f["coverage"]["unvisited"])
    a = b["alerts"]
    assert (a["count"], a["unresolved"], a["by_kind"]) == (f["alerts"]["count"], f["alerts"]["unresolved"],
                                                          f["alerts"]["by_kind"])
    assert [n["id"] for n in a["notable"]] == f["alerts"]["notable"]
    raw = json.dumps(b, ensure_ascii=False)
    for name in ("张三", "李四丰", "王小明"):  # personal names never leave unmasked
        assert name not in raw
    return b


@pytest.mark.parametrize("scope", ["street", "community"])
def test_normal_day(world, scope):
    cid = None if scope == "street" else 2
    b = check(world, NORMAL_DAY, cid)
    k = {r["key"]: r for r in b["kpis"]}
    assert k["reported"]["value"] > 0 and k["closed"]["value"] > 0 and b["hot_grids"] and b["overdue"]
    assert b["workers"]["patrol_km"] > 0
    assert b["coverage"]["unvisited_count"] >= 1  # grid 5 is never visited
    text = summary_text(b)
    assert f"共上报事件 {k['reported']['value']} 件" in text
    d = k["reported"]["value"] - k["reported"]["yesterday"]
    assert ("持平" if d == 0 else f"{'增加' if d > 0 else '减少'} {abs(d)} 件") in text.split("较上周")[0]


def test_holiday_day(world):
    b = check(world, HOLIDAY_DAY, None)
    assert not b["workday"] and b["holiday"] == "国庆节"
    assert "国庆节假期" in summary_text(b)
    # SLA clocks stop on holidays: a case dispatched on 30 Sep falls due after the holiday, so on
    # 1 Oct no deadline falls and the only due cases are ones closed early that day
    ref = Reference(world.db.engine)
    pre = ref.cases[(ref.cases["dispatched_at"] < ref.bounds(HOLIDAY_DAY)[0]) & ref.cases["sla_due_at"].notna()
                    & (ref.cases["dispatched_at"] >= ref.bounds(date(2026, 9, 30))[0])]
    assert len(pre) and (pre["sla_due_at"] >= pd.Timestamp("2026-10-08 00:30", tz="UTC")).any()
    assert b["counts"]["due"] == b["counts"]["closed_due"]


def test_empty_day(world):
    b = check(world, EMPTY_DAY, None)
    k = {r["key"]: r for r in b["kpis"]}
    assert all(k[x]["value"] == 0 for x in ("reported", "onsite", "escalated", "closed", "overdue"))
    assert all(k[x]["value"] is None for x in ("closure_rate", "on_time_rate", "onsite_rate", "avg_handling_hours"))
    assert b["hot_grids"] == [] and b["overdue"] == [] and b["by_category"] == []
    assert b["coverage"]["any"] == 0 and b["coverage"]["unvisited_count"] == 9
    assert "共上报事件 0 件" in summary_text(b)


def test_today_cut_is_now(world):
    """For the current day, overdue is measured at now, not at midnight."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)
    with world.db.read() as s:
        b = briefing(s, day=NORMAL_DAY, calendar=WorkCalendar.official(), now=now)
    exp = Reference(world.db.engine).kpis(NORMAL_DAY, None, pd.Timestamp(now).tz_convert("UTC"))
    assert b["counts"]["overdue"] == exp["overdue"]
    assert b["cut"].startswith("2026-11-25T12:00")
