"""The leader's figures (issue 29) computed by hand on a small street, against the page, the PDF and the Excel.

The street is tests/utils/factories.make_district (3×3 grids of ~185×222 m, two workers). Each test writes
a few cases and fixes through the real services and checks the figure it computed by hand.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.models import Grid, Worker
from dashboard.services.briefing import briefing
from dashboard.services.cases import CaseReport, report_case, transition
from dashboard.services.positions import Fix, ingest_fixes
from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar
from tests.utils.factories import make_district

DAY = date(2026, 11, 25)  # a Wednesday
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=SHANGHAI)
CAL = WorkCalendar.official()


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


@pytest.fixture
def street(tmp_path):
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import make_settings

    _, services = create_app(make_settings(f"sqlite:///{tmp_path / 'leader.db'}", tmp_path))
    migrate(services.db.engine)
    with services.db.write() as s:
        make_district(s)
    services.reload_grids()
    yield services
    services.shutdown()


def report(services, day: date, hh: int, *, grid: str = "G00", onsite: bool = False, category: str = "0601"):
    with services.db.write() as s:
        g = s.scalar(select(Grid).where(Grid.code == grid))
        w = s.scalar(select(Worker).where(Worker.code == "W1"))
        c, _ = report_case(s, CaseReport(category_code=category, lat=g.centroid_lat, lon=g.centroid_lon, onsite=onsite,
                                         reporter_worker_id=w.id), locator=services.locator, now=at(day, hh))
        return c.id


def figures(services, day: date = DAY, cid=None) -> dict:
    with services.db.read() as s:
        return briefing(s, day=day, community_id=cid, calendar=CAL, now=NOW)


def page_text(services, b: dict, lang: str = "zh-CN") -> str:
    """The text a person reads on /briefing for these figures (the Dash components flattened)."""
    from layouts.briefing import render_content

    out: list[str] = []

    def walk(node) -> None:
        if node is None or isinstance(node, (bool, int, float)):
            if isinstance(node, (int, float)) and not isinstance(node, bool):
                out.append(str(node))
            return
        if isinstance(node, str):
            out.append(node)
            return
        if isinstance(node, (list, tuple)):
            for n in node:
                walk(n)
            return
        walk(getattr(node, "children", None))

    walk(render_content(b, lang, services))
    return " ".join(out)


# --- 1. comparisons only where there is something to compare -----------------------------------------

def test_no_comparison_without_data(street):
    """Three cases on DAY and nothing before: yesterday and last week have no data → 无可比数据, no arrow."""
    for hh in (9, 10, 11):
        report(street, DAY, hh)
    b = figures(street)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"] == {"yesterday": False, "last_week": False}
    assert k["reported"]["value"] == 3
    assert k["reported"]["yesterday"] is None and k["reported"]["delta_day"] is None
    assert k["reported"]["last_week"] is None and k["reported"]["delta_week"] is None
    text = page_text(street, b)
    assert "较昨日无可比数据，较上周同期无可比数据" in text
    assert "增加 3 件" not in text and "▲" not in text and "▼" not in text
    assert text.count("无可比数据") >= 2 * 9  # both lines of every KPI card
    assert b["hourly"]["reported_yesterday"] is None


def test_comparison_with_data(street):
    """One case yesterday, two the same weekday last week, three today: +2 and +1, arrows up."""
    report(street, DAY - timedelta(days=1), 9)
    for hh in (9, 10):
        report(street, DAY - timedelta(days=7), hh)
    for hh in (9, 10, 11):
        report(street, DAY, hh)
    b = figures(street)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"] == {"yesterday": True, "last_week": True}
    assert (k["reported"]["yesterday"], k["reported"]["last_week"]) == (1, 2)
    assert (k["reported"]["delta_day"], k["reported"]["delta_week"]) == (2, 1)
    text = page_text(street, b)
    assert "较昨日增加 2 件（+200.0%），较上周同期增加 1 件（+50.0%）" in text
    assert "▲ 2" in text and "▲ 1" in text


def test_community_with_no_case_still_compares(street):
    """The street ran yesterday (a case in 一社区): 二社区's zero yesterday is a figure, not missing data."""
    report(street, DAY - timedelta(days=1), 9, grid="G00")  # 一社区
    report(street, DAY, 9, grid="G11")  # 二社区
    with street.db.read() as s:
        from dashboard.models import Community
        c2 = s.scalar(select(Community.id).where(Community.code == "S1C2"))
    b = figures(street, cid=c2)
    k = {r["key"]: r for r in b["kpis"]}
    assert b["compare"]["yesterday"] is True
    assert (k["reported"]["value"], k["reported"]["yesterday"], k["reported"]["delta_day"]) == (1, 0, 1)


# --- 2. patrol mileage from the day's fixes, jitter filtered ----------------------------------------------

M_LAT = 1 / 111_195.08  # degrees of latitude per metre on the haversine sphere (R = 6,371,008.8 m)


def walk_fixes(services) -> list[list]:
    """W1's hand-made track on DAY, in two batches (the walk continues across them). Start P0 = G00's centre;
    the grids are 222 m tall and 185 m wide, P0 111 m above G00's lower edge and 92.5 m right of its left edge."""
    import math

    with services.db.read() as s:
        g = s.scalar(select(Grid).where(Grid.code == "G00"))
        wid = s.scalar(select(Worker.id).where(Worker.code == "W1"))
    lat0, lon0 = g.centroid_lat, g.centroid_lon
    m_lon = M_LAT / math.cos(math.radians(lat0))

    def fix(hh, mm, ss, north, east, acc=None):
        return Fix(worker_id=wid, fix_time=at(DAY, hh, mm, ss), lat=lat0 + north * M_LAT, lon=lon0 + east * m_lon,
                   accuracy=acc)

    return [[fix(9, 0, 0, 0, 0),              # P0: the walk starts
             fix(9, 0, 30, 3, 2.5),           # 3.9 m away: jitter, ignored
             fix(9, 1, 0, 100, 0),            # +100 m (G00, 211 m above its edge)
             fix(9, 1, 30, 300, 0, acc=80),   # accuracy 80 m: dropped
             fix(9, 1, 40, 100, 1000)],       # 1 km east in 10 s: a jump, dropped
            [fix(9, 2, 30, 200, 0),           # +100 m into G10 (311 m up)
             fix(9, 3, 0, 204, 0),            # 4 m: jitter
             fix(9, 15, 0, 200, 150),         # 12 min of silence, then 150 m east: the way is unknown, 0
             fix(9, 15, 30, 200, 200)]]       # +50 m in G11


def test_mileage_on_a_hand_made_track(street):
    """100 + 100 + 50 = 250 m: 0.25 km for W1; 100 m in G00, 100 in G10, 50 in G11; jitter, a poor fix, a jump
    and the way across a silence add nothing. A back-fill from the stored fixes gives the same."""
    from dashboard.models import PositionDay, PositionWalk
    from dashboard.services.position_day import backfill

    for batch in walk_fixes(street):
        with street.db.write() as s:
            ingest_fixes(s, batch, locator=street.locator, now=at(DAY, 12))
    b = figures(street)
    w = b["workers"]
    assert w["patrol_km"] == 0.25 and w["fixes"] == 9
    assert {g["code"]: g["km"] for g in w["km_by_grid"]} == {"G00": 0.1, "G10": 0.1, "G11": 0.05}
    assert [x["km"] for x in w["top"]] == [0.25]
    with street.db.read() as s:
        per = {r.grid_id: r.distance_m for r in s.scalars(select(PositionDay))}
    assert sorted(round(m, 1) for m in per.values()) == [0.0, 50.0, 100.0, 100.0]  # 0: where the jump landed
    with street.db.write() as s:
        s.execute(PositionDay.__table__.delete())
        s.execute(PositionWalk.__table__.delete())
        backfill(s, DAY, DAY)
    assert figures(street)["workers"]["patrol_km"] == 0.25
    text = page_text(street, b)
    assert "巡查里程 0.25 公里" in text  # the summary
    assert "巡查里程(公里) 1/2 9 0 0 0.25" in text  # the workers' card
    assert "G00 网格00 0.10 G10 网格10 0.10 G11 网格11 0.05" in text  # the grids walked most


# --- 3. handling time in clock hours and working hours ------------------------------------------------------

def close_loop(services, case_id: int, dispatched: datetime, closed: datetime) -> None:
    with services.db.write() as s:
        from dashboard.models import Case

        c = s.get(Case, case_id)
        w = s.scalar(select(Worker.id).where(Worker.code == "W2"))
        transition(s, c, "dispatch", actor="t", worker_id=w, calendar=CAL, now=dispatched)
        transition(s, c, "acknowledge", actor="t", calendar=CAL, now=dispatched + timedelta(minutes=1))
        transition(s, c, "feedback", actor="t", calendar=CAL, now=closed - timedelta(minutes=1))
        transition(s, c, "approve", actor="t", calendar=CAL, now=closed)


def test_handling_time_clock_and_working_hours(street):
    """A: dispatched Wed 09:00, closed 11:30 → 2.5 h, 2.5 working h (08:30–12:00). B: dispatched Tue 16:00,
    closed Wed 09:30 → 17.5 h; working 16:00–17:30 + 08:30–09:30 = 2.5 h. Averages 10.0 and 2.5, over 2 cases."""
    a = report(street, DAY, 9)
    b_ = report(street, DAY - timedelta(days=1), 15)
    close_loop(street, a, at(DAY, 9), at(DAY, 11, 30))
    close_loop(street, b_, at(DAY - timedelta(days=1), 16), at(DAY, 9, 30))
    b = figures(street)
    k = {r["key"]: r for r in b["kpis"]}
    assert k["avg_handling_hours"]["value"] == pytest.approx(10.0)
    assert k["avg_handling_work_hours"]["value"] == pytest.approx(2.5)
    assert b["counts"]["handled"] == 2
    text = page_text(street, b)
    assert "派遣至结案平均处置时长 10.0 小时（自然时间），合 2.5 个工作小时（按工作日历），共 2 件。" in text
    assert "平均处置时长(自然小时) 10.0" in text and "平均处置时长(工作小时) 2.5" in text
    en = page_text(street, b, "en")
    assert "10.0 clock hours, 2.5 working hours" in en and "Avg handling time (working hours) 2.5" in en


def test_no_closed_case_says_so(street):
    report(street, DAY, 9)
    b = figures(street)
    assert b["counts"]["handled"] == 0
    text = page_text(street, b)
    assert "当日没有派遣后结案的案件，无处置时长可计。" in text
    assert "平均处置时长(自然小时) 当日无结案" in text and "平均处置时长(工作小时) 当日无结案" in text
    assert "— 小时" not in text


# --- the same figures in the PDF and the Excel ----------------------------------------------------------------

def pdf_pages(b: dict, lang: str = "zh-CN") -> list[str]:
    import io

    from pypdf import PdfReader

    from dashboard.services.exports import briefing_pdf

    return [p.extract_text() for p in PdfReader(io.BytesIO(briefing_pdf(b, lang))).pages]


def workbook(services, b: dict, day: date = DAY, lang: str = "zh-CN"):
    import io

    from openpyxl import load_workbook

    from dashboard.services.briefing import case_list
    from dashboard.services.exports import briefing_xlsx

    with services.db.read() as s:
        cases = case_list(s, day=day)
    return load_workbook(io.BytesIO(briefing_xlsx(b, cases, lang)))


def squash(text: str) -> str:
    import re

    return re.sub(r"\s+", "", text)


def test_figures_match_in_pdf_and_excel(street):
    """Mileage 0.25 km, handling 10.0 h / 2.5 working h over 2 cases, reported 1 today vs 1 yesterday: the page,
    the PDF text and the Excel cells say the same."""
    a = report(street, DAY, 9)
    b_ = report(street, DAY - timedelta(days=1), 15)
    close_loop(street, a, at(DAY, 9), at(DAY, 11, 30))
    close_loop(street, b_, at(DAY - timedelta(days=1), 16), at(DAY, 9, 30))
    for batch in walk_fixes(street):
        with street.db.write() as s:
            ingest_fixes(s, batch, locator=street.locator, now=at(DAY, 12))
    b = figures(street)
    page = page_text(street, b)
    pdf = squash("".join(pdf_pages(b)))
    for phrase in ("巡查里程 0.25 公里", "派遣至结案平均处置时长 10.0 小时（自然时间），合 2.5 个工作小时",
                   "较昨日持平，较上周同期无可比数据"):
        assert phrase in page and squash(phrase) in pdf, phrase
    # the KPI table: today 10.0; yesterday closed nothing ("—"); last week had no data at all
    assert squash("平均处置时长(自然小时)10.0—无可比数据") in pdf
    wb = workbook(street, b)
    kpi = {r[0].value: r for r in wb["指标"].iter_rows(min_row=2)}
    assert kpi["平均处置时长(自然小时)"][1].value == pytest.approx(10.0)
    assert kpi["平均处置时长(自然小时)"][1].number_format == "0.0"
    assert kpi["平均处置时长(工作小时)"][1].value == pytest.approx(2.5)
    assert kpi["上报事件"][1].value == 1 and kpi["上报事件"][2].value == 1 and kpi["上报事件"][3].value == "无可比数据"
    assert kpi["结案率"][1].number_format == "0.0%"
    workers = list(wb["网格员活动"].iter_rows(values_only=True))
    assert workers[0][-1] == "巡查里程(公里)" and workers[1][-1] == pytest.approx(0.25)
    grids = list(wb["网格巡查里程"].iter_rows(values_only=True))[1:]
    assert [(g[0], g[2]) for g in grids] == [("G00", 0.1), ("G10", 0.1), ("G11", 0.05)]
    summary = {r[0]: r[1] for r in wb["当日概况"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert summary["巡查里程(公里)"] == pytest.approx(0.25) and summary["上报事件"] == 1


def test_pdf_embeds_its_cjk_font_and_numbers_every_page(street):
    """Enough overdue cases for several pages: each page's footer says 第 N 页 and the day; the Chinese text is in
    an embedded TrueType font (FontFile2), so it prints the same on any reader."""
    import io

    from pypdf import PdfReader

    from dashboard.services.exports import briefing_pdf

    for i in range(45):
        cid = report(street, DAY - timedelta(days=2), 9, category="0401")  # a 2-hour deadline
        with street.db.write() as s:
            from dashboard.models import Case

            c = s.get(Case, cid)
            transition(s, c, "dispatch", actor="t", worker_id=c.reporter_worker_id, calendar=CAL,
                       now=at(DAY - timedelta(days=2), 9, i))
    b = figures(street)
    assert len(b["overdue"]) >= 30
    for lang, page_word in (("zh-CN", "第 {n} 页"), ("en", "Page {n}")):
        reader = PdfReader(io.BytesIO(briefing_pdf(b, lang)))
        assert len(reader.pages) >= 2
        for n, page in enumerate(reader.pages, 1):
            text = page.extract_text()
            assert page_word.format(n=n) in text and DAY.isoformat() in text, (lang, n)
        embedded = set()
        for page in reader.pages:
            for f in page["/Resources"]["/Font"].values():
                f = f.get_object()
                fonts = [f] + [d.get_object() for d in f.get("/DescendantFonts", [])]
                for x in fonts:
                    desc = x.get("/FontDescriptor")
                    if desc is not None and "/FontFile2" in desc.get_object():
                        embedded.add(str(x["/BaseFont"]))
        assert any(name.endswith("+NotoSansSCGCSubset") for name in embedded), embedded  # a subset, embedded
        # no heading left alone at a page's foot: a page's last line is never a section title
        from dashboard.i18n import t

        headings = {t(k, lang) for k in ("brief.summary", "brief.col.indicator", "brief.hourly", "brief.by_category",
                                         "brief.funnel", "brief.communities", "brief.hot_grids", "brief.overdue",
                                         "brief.workers", "brief.sheet.top_workers", "brief.sheet.km_by_grid",
                                         "brief.coverage", "brief.alerts")}
        # every length of the overdue table moves the later headings down the page by a row: one of them would
        # land at a page's foot if headings did not keep with what follows
        for n in range(0, len(b["overdue"]) + 1, 1 if lang == "zh-CN" else 45):
            for page in PdfReader(io.BytesIO(briefing_pdf({**b, "overdue": b["overdue"][:n]}, lang))).pages[:-1]:
                lines = [ln.strip() for ln in page.extract_text().splitlines() if ln.strip()]
                assert lines[-1] not in headings, (n, lines[-3:])
    zh = "".join(p.extract_text() for p in PdfReader(io.BytesIO(briefing_pdf(b))).pages)
    assert "超期案件" in zh and "态势摘要" in zh


def test_excel_sheets_headers_and_no_formula_cells(street):
    """Chinese sheet names and headers (English with lang=en), the summary first, labels for codes, and no text
    cell that starts with = + - @ even when names and titles typed by people do."""
    from dashboard.models import Grid as G
    from dashboard.services import alerts as alert_svc

    with street.db.write() as s:
        s.scalar(select(G).where(G.code == "G00")).name = "=HYPERLINK(1)"
        s.scalar(select(Worker).where(Worker.code == "W1")).name = "@王五"
        alert_svc.raise_alert(s, source="rule", kind="case_spike", severity="severe", title="-2+3 事件激增",
                              now=at(DAY, 10))
    report(street, DAY, 9)
    report(street, DAY, 10, onsite=True)
    b = figures(street)
    wb = workbook(street, b)
    assert wb.sheetnames[0] == "当日概况"
    assert wb.sheetnames == ["当日概况", "指标", "事件类别", "分时统计", "处置流程", "各社区", "热点网格", "超期案件",
                             "网格员活动", "活跃网格员", "网格巡查里程", "巡查覆盖", "未巡查网格", "告警", "居民满意度", "走访",
                             "案件清单"]
    head = {ws.title: [c.value for c in ws[1]] for ws in wb.worksheets}
    assert head["案件清单"] == ["案卷号", "大类", "小类", "网格", "网格名称", "状态", "就地处置", "上报人", "上报时间",
                             "派遣时间", "结案时间"]
    assert head["告警"] == ["时间", "类型", "级别", "告警", "状态"]
    assert all(all(h for h in hs) for hs in head.values()), head  # every column headed
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [v for v in texts if v[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(1)" in texts and "'-2+3 事件激增" in texts
    alerts = list(wb["告警"].iter_rows(min_row=2, values_only=True))
    assert alerts[0][1:] == ("事件激增", "严重", "'-2+3 事件激增", "新告警")  # labels, not case_spike / severe / new
    cases = list(wb["案件清单"].iter_rows(min_row=2, values_only=True))
    assert {r[6] for r in cases} == {"是", "否"} and not {"True", "False", "reported", "closed"} & {
        str(v) for r in cases for v in r}
    assert wb["案件清单"].column_dimensions["A"].width >= 10 and wb["当日概况"].column_dimensions["B"].width >= 60
    en = workbook(street, b, lang="en")
    assert en.sheetnames[0] == "Summary" and "Cases" in en.sheetnames
    assert [c.value for c in en["Cases"][1]][:3] == ["Case", "Class", "Category"]


# --- the replay tells the truth ---------------------------------------------------------------------------------

def test_replay_stops_at_now_and_its_labels_say_what_they_do(street):
    """Today's replay ends at the current minute (10:30 → 630); a past day's at 23:59. The speed options read
    'n minutes per second' (the player moves n minutes of the day a second), and the map has a legend."""
    from dashboard.services.replay import ReplayCache, replay
    from layouts.briefing import replay_legend

    report(street, DAY, 9)
    with street.db.read() as s:
        assert replay(s, day=DAY, now=at(DAY, 10, 30))["until"] == 630
        assert replay(s, day=DAY, now=NOW)["until"] == 1439
        assert replay(s, day=DAY, now=at(DAY, 0, 0))["until"] == 0
    cache = ReplayCache()
    assert cache.get(street.db.read, day=DAY, community_id=None, now=at(DAY, 10, 30))["until"] == 630
    assert cache.get(street.db.read, day=DAY, community_id=1, now=at(DAY, 10, 30)) is not \
        cache.get(street.db.read, day=DAY, community_id=None, now=at(DAY, 10, 30))  # per day and scope
    from dashboard.i18n import t

    assert t("brief.replay.speed_n", "zh-CN", n=15) == "每秒 15 分钟"
    assert t("brief.replay.speed_n", "en", n=60) == "60 min per second"
    js = (Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "60-briefing.js").read_text(encoding="utf-8")
    assert "state.speed / 4" in js and "setInterval(tick, 250)" in js  # n/4 minutes every 250 ms: n a second
    legend = [c.children for c in replay_legend("zh-CN").children]
    assert legend == ["上报", "立案", "派遣", "处置", "反馈待核查", "结案", "网格员", "近30分钟轨迹"]
