"""The briefing over HTTP: JSON figures, the PDF's text, the Excel sheets, the CSV case list, errors and scope."""
from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
from pypdf import PdfReader

from dashboard.services.apikeys import create_api_key
from dashboard.services.exports import fmt_kpi
from tests.utils.briefing_world import NORMAL_DAY, build_world

DAY = NORMAL_DAY.isoformat()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One world on SQLite for the module (the figures themselves are checked on both backends in unit/)."""
    from dashboard.app import create_app
    from dashboard.db import migrate
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("briefing_api")
    app, services = create_app(make_settings(f"sqlite:///{tmp / 'api.db'}", tmp))
    migrate(services.db.engine)
    build_world(services, per_day=10)
    yield app.test_client(), services
    services.shutdown()


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_pdf_holds_the_summary_and_figures(client):
    c, _ = client
    b = c.get(f"/api/v1/briefing?day={DAY}").get_json()
    r = c.get(f"/api/v1/briefing/export.pdf?day={DAY}")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert f"briefing-{DAY}.pdf" in r.headers["Content-Disposition"]
    text = squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages))
    for para in b["summary"]:
        assert squash(para) in text, para
    assert "共上报事件" in text and b["scope_name"] in text
    # the KPI table: every label with its day, yesterday and last-week values in one row
    for k in b["kpis"]:
        from dashboard.i18n import t

        row = squash(t(f"brief.kpi.{k['key']}") + fmt_kpi(k["key"], k["value"]) + fmt_kpi(k["key"], k["yesterday"])
                     + fmt_kpi(k["key"], k["last_week"]))
        assert row in text, k["key"]
    for g in b["hot_grids"]:
        assert squash(f"{g['code']}{g['name']}{g['reported']}") in text


def test_excel_sheets_hold_the_same_numbers(client):
    c, _ = client
    b = c.get(f"/api/v1/briefing?day={DAY}").get_json()
    r = c.get(f"/api/v1/briefing/export.xlsx?day={DAY}")
    assert r.status_code == 200
    sheets = pd.read_excel(io.BytesIO(r.data), sheet_name=None)
    assert list(sheets)[0] == "当日概况"
    assert {"指标", "事件类别", "分时统计", "处置流程", "各社区", "热点网格", "超期案件", "网格员活动", "巡查覆盖",
            "未巡查网格", "告警", "案件清单"} <= set(sheets)
    kp = sheets["指标"].set_index("指标")
    from dashboard.i18n import t

    for k in b["kpis"]:
        for col, src in (("当日", "value"), ("昨日", "yesterday"), ("上周同期", "last_week")):
            v = kp.loc[t(f"brief.kpi.{k['key']}"), col]
            assert (pd.isna(v) and k[src] is None) or v == pytest.approx(k[src]), (k["key"], col)
    assert sheets["分时统计"]["上报"].tolist() == b["hourly"]["reported"]
    assert sheets["分时统计"]["结案"].tolist() == b["hourly"]["closed"]
    assert dict(zip(sheets["处置流程"]["环节"], sheets["处置流程"]["件数"])) == {
        t(f"brief.funnel.{s}"): n for s, n in b["funnel"].items()}
    assert sheets["事件类别"]["上报事件"].tolist() == [x["reported"] for x in b["by_category"]]
    assert sheets["热点网格"]["网格"].tolist() == [g["code"] for g in b["hot_grids"]]
    assert sheets["超期案件"]["案卷号"].astype(str).tolist() == [o["code"] for o in b["overdue"]]
    assert int(sheets["巡查覆盖"]["未巡查网格"][0]) == b["coverage"]["unvisited_count"]
    assert int(sheets["网格员活动"]["在岗"][0]) == b["workers"]["active"]
    summary = sheets["当日概况"]
    assert [p for p in summary["内容"].astype(str) if p in b["summary"]] == b["summary"]
    # the case list: reported + closed in the day, same as the CSV
    csv_rows = list(csv.DictReader(io.StringIO(c.get(f"/api/v1/briefing/export.csv?day={DAY}").data.decode(
        "utf-8-sig"))))
    assert sheets["案件清单"]["案卷号"].astype(str).tolist() == [row["案卷号"] for row in csv_rows]
    reported = sum(1 for row in csv_rows if row["上报时间"].startswith(DAY))
    assert reported == next(k["value"] for k in b["kpis"] if k["key"] == "reported")


def test_csv_case_list_is_masked_and_complete(client):
    c, services = client
    r = c.get(f"/api/v1/briefing/export.csv?day={DAY}")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
    body = r.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and list(rows[0]) == ["案卷号", "大类", "小类", "网格", "网格名称", "状态", "就地处置", "上报人",
                                      "上报时间", "派遣时间", "结案时间"]
    for raw in ("张三", "李四丰", "王小明"):
        assert raw not in body
    assert "closed" not in body and "True" not in body and "False" not in body  # labels, not codes
    assert any(row["上报人"] in ("张*", "李*丰", "王*明") for row in rows)
    closed = sum(1 for row in rows if row["结案时间"].startswith(DAY) and row["状态"] == "结案")
    b = c.get(f"/api/v1/briefing?day={DAY}").get_json()
    assert closed == b["counts"]["closed"]
    en = list(csv.DictReader(io.StringIO(c.get(f"/api/v1/briefing/export.csv?day={DAY}&lang=en").data.decode(
        "utf-8-sig"))))
    assert list(en[0])[:3] == ["Case", "Class", "Category"] and {row["On the spot"] for row in en} <= {"Yes", "No"}


def test_bad_input_and_scope(client):
    c, services = client
    assert c.get("/api/v1/briefing?day=2026-02-30").get_json()["error"]["field"] == "day"
    assert c.get("/api/v1/briefing?day=yesterday").status_code == 400
    assert c.get("/api/v1/briefing?community=abc").status_code == 400
    assert c.get("/api/v1/briefing?community=999").status_code == 404
    assert c.get("/api/v1/briefing/export.doc").status_code == 404
    assert c.get("/api/v1/replay?day=x").status_code == 400
    street = c.get(f"/api/v1/briefing?day={DAY}").get_json()
    comm = c.get(f"/api/v1/briefing?day={DAY}&community=2").get_json()
    assert comm["community_id"] == 2 and comm["scope_name"] == "二社区"
    assert [x["code"] for x in comm["communities"]] == ["S1C2"]
    assert comm["counts"]["reported"] <= street["counts"]["reported"]
    # a community leader's key is held to its community; a worker's key may not read the briefing
    with services.db.write() as s:
        _, leader = create_api_key(s, name="c1 leader", role="leader", community_id=1)
        _, worker = create_api_key(s, name="w", role="worker")
    h = {"Authorization": f"Bearer {leader}"}
    assert c.get(f"/api/v1/briefing?day={DAY}", headers=h).get_json()["community_id"] == 1
    assert c.get(f"/api/v1/briefing?day={DAY}&community=2", headers=h).status_code == 403
    assert c.get(f"/api/v1/briefing?day={DAY}", headers={"X-API-Key": worker}).status_code == 403


def test_daily_brief_written_at_the_set_time(client, tmp_path):
    """The scheduler's step: after GC_BRIEF_AT it writes yesterday's files once, before it nothing."""
    import threading
    from datetime import datetime

    from dashboard.services.daily_brief import brief_loop
    from dashboard.timeutil import SHANGHAI

    _, services = client
    saved = services.settings
    services.settings = saved.with_(brief_dir=tmp_path / "briefs", brief_at="07:30")
    term = threading.Event()
    clock_at = {"t": datetime(2026, 11, 26, 7, 0, tzinfo=SHANGHAI)}

    def clock():
        return clock_at["t"]

    def run_once(expect: bool) -> None:
        import time

        th = threading.Thread(target=brief_loop, args=(services, term), kwargs={"clock": clock, "poll_s": 0.05})
        th.start()
        pdf = tmp_path / "briefs" / DAY / f"briefing-{DAY}.pdf"
        deadline = time.time() + (30 if expect else 0.5)
        while time.time() < deadline and not (expect and pdf.exists() and any(pdf.parent.glob("*.txt"))):
            time.sleep(0.05)
        term.set()
        th.join(30)
        term.clear()

    run_once(False)
    assert not (tmp_path / "briefs").exists()
    clock_at["t"] = datetime(2026, 11, 26, 7, 31, tzinfo=SHANGHAI)
    run_once(True)
    folder = tmp_path / "briefs" / DAY
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"briefing-{DAY}.pdf", f"briefing-{DAY}.txt", f"briefing-{DAY}.xlsx", f"cases-{DAY}.csv"]
    assert "共上报事件" in (folder / f"briefing-{DAY}.txt").read_text(encoding="utf-8")
    services.settings = saved
