"""Briefing exports: a PDF with Chinese text (reportlab's built-in CID font, nothing downloaded),
an Excel workbook with one sheet per figure, and the day's case list as CSV."""
from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd

from ..i18n import t
from .summary import hours, pct, summary_paragraphs

CJK_FONT = "STSong-Light"  # Adobe-GB1 CID font that ships inside reportlab (no font file needed)
RATE_KEYS = {"closure_rate", "on_time_rate", "onsite_rate"}
HOUR_KEYS = {"avg_handling_hours", "avg_handling_work_hours"}
CASE_COLUMNS = ["code", "major", "category", "grid_code", "grid_name", "state", "onsite", "reporter",
                "created_at", "dispatched_at", "closed_at"]


# A text cell starting with one of these is read by Excel/LibreOffice as a formula (or, after a tab or CR,
# may become one when pasted): OWASP's CSV injection rule. Names, titles and descriptions are typed by
# people outside the control room (Open311 clients, CAP senders, imported tables).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with a single quote; anything else as is.

    Every Excel and CSV export passes its cells through this (numbers stay numbers: -3.5 is no formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell (and column name) passed through ``neutralise_cell``."""
    out = df.map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


def fmt_kpi(key: str, v: Any) -> str:
    """A KPI value as printed: rates in %, hours with one decimal, counts as integers."""
    if key in RATE_KEYS:
        return pct(v)
    if key in HOUR_KEYS:
        return hours(v)
    return "—" if v is None else str(v)


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _table(rows: list[list[Any]], widths: list[float] | None = None):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    tbl = Table([[("" if c is None else str(c)) for c in r] for r in rows], colWidths=widths, repeatRows=1)
    tbl.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), CJK_FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#0b3d6b")), ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa7b5")), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#eef3f8")])]))
    return tbl


def _hourly_chart(b: dict[str, Any], lang: str):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    d = Drawing(480, 150)
    ch = VerticalBarChart()
    ch.x, ch.y, ch.width, ch.height = 30, 20, 440, 120
    ch.data = [b["hourly"]["reported"], b["hourly"]["closed"]]
    ch.categoryAxis.categoryNames = [str(h) for h in range(24)]
    ch.categoryAxis.labels.fontSize = ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.valueMin = 0
    ch.bars[0].fillColor, ch.bars[1].fillColor = colors.HexColor("#1d5a8c"), colors.HexColor("#3aa76d")
    d.add(ch)
    return d


def briefing_pdf(b: dict[str, Any], lang: str = "zh-CN") -> bytes:
    """The printable brief: title, summary, KPI table, hourly chart and the detail tables."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = _font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=16, leading=22, spaceAfter=4)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=16, wordWrap="CJK")
    small = ParagraphStyle("s", fontName=font, fontSize=8, leading=11, textColor="#5a6b7b")
    story: list[Any] = [
        Paragraph(f"{b['scope_name']} {t('brief.title', lang)} {b['day']}", h1),
        Paragraph(f"{t('brief.generated', lang)}: {b['generated_at']}", small),
        Paragraph(t("brief.summary", lang), h2)]
    story += [Paragraph(p, body) for p in summary_paragraphs(b, lang)]
    story += [Paragraph(t("brief.col.indicator", lang), h2), _table(
        [[t("brief.col.indicator", lang), t("brief.col.today", lang), t("brief.col.yesterday", lang),
          t("brief.col.last_week", lang)]]
        + [[t(f"brief.kpi.{k['key']}", lang), fmt_kpi(k["key"], k["value"]), fmt_kpi(k["key"], k["yesterday"]),
            fmt_kpi(k["key"], k["last_week"])] for k in b["kpis"]], [60 * mm, 35 * mm, 35 * mm, 35 * mm])]
    story += [Paragraph(t("brief.hourly", lang), h2), _hourly_chart(b, lang)]
    for title, rows in _sections(b, lang):
        story += [Paragraph(title, h2), _table(rows) if len(rows) > 1 else Paragraph(t("brief.none", lang), body)]
    story.append(Spacer(1, 6 * mm))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm, title=f"{t('brief.title', lang)} {b['day']}").build(story)
    return buf.getvalue()


def _sections(b: dict[str, Any], lang: str) -> list[tuple[str, list[list[Any]]]]:
    """(title, rows with a header) for every detail table; shared by the PDF."""
    f = b["funnel"]
    cov, w = b["coverage"], b["workers"]
    return [
        (t("brief.by_category", lang), [[t("brief.category", lang), t("brief.kpi.reported", lang),
                                         t("brief.kpi.onsite", lang)]]
         + [[c["major_name"], c["reported"], c["onsite"]] for c in b["by_category"]]),
        (t("brief.funnel", lang), [[t("brief.col.stage", lang), t("brief.count", lang)]]
         + [[t(f"brief.funnel.{s}", lang), f[s]] for s in ("reported", "onsite", "escalated", "dispatched",
                                                            "feedback", "closed")]),
        (t("brief.communities", lang), [[t("brief.community", lang), t("brief.due", lang),
                                         t("brief.kpi.closure_rate", lang), t("brief.kpi.on_time_rate", lang)]]
         + [[c["name"], c["due"], pct(c["closure_rate"]), pct(c["on_time_rate"])] for c in b["communities"]]),
        (t("brief.hot_grids", lang), [[t("brief.grid", lang), "", t("brief.count", lang)]]
         + [[g["code"], g["name"], g["reported"]] for g in b["hot_grids"]]),
        (t("brief.overdue", lang), [[t("brief.case_code", lang), t("brief.category", lang), t("brief.grid", lang),
                                     t("brief.overdue_hours", lang), t("brief.worker", lang)]]
         + [[o["code"], o["category"], o["grid_name"], o["overdue_hours"], o["worker"] or o["department"] or ""]
            for o in b["overdue"][:30]]),
        (t("brief.workers", lang), [[t("brief.workers.active", lang), t("brief.workers.fixes", lang),
                                     t("brief.workers.reports", lang), t("brief.workers.patrols", lang),
                                     t("brief.workers.km", lang)],
                                    [f"{w['active']}/{w['workers']}", w["fixes"], w["reports"], w["foot_patrols"],
                                     w["patrol_km"]]]),
        (t("brief.coverage", lang), [[t("brief.coverage.foot", lang), t("brief.coverage.mouse", lang),
                                      t("brief.coverage.any", lang), t("brief.coverage.unvisited", lang)],
                                     [f"{cov['foot']}/{cov['grids']}", f"{cov['mouse']}/{cov['grids']}",
                                      f"{cov['any']}/{cov['grids']} ({pct(cov['any_rate'])})",
                                      cov["unvisited_count"]]]),
        (t("brief.alerts", lang), [[t("brief.time", lang), t("brief.alert.severity", lang),
                                    t("brief.alert.title", lang)]]
         + [[a["created_at"][11:16], t(f"brief.sev.{a['severity']}", lang), a["title"][:40]]
            for a in b["alerts"]["notable"]]),
    ]


def briefing_sheets(b: dict[str, Any], cases: list[dict[str, Any]], lang: str = "zh-CN") -> dict[str, pd.DataFrame]:
    """One DataFrame per sheet; numbers stay numbers (rates as fractions) so the workbook can be recomputed."""
    kpis = pd.DataFrame([{"key": k["key"], "name": t(f"brief.kpi.{k['key']}", lang), "today": k["value"],
                          "yesterday": k["yesterday"], "last_week": k["last_week"]} for k in b["kpis"]])
    hourly = pd.DataFrame({"hour": range(24), **b["hourly"]})
    funnel = pd.DataFrame([{"stage": s, "name": t(f"brief.funnel.{s}", lang), "count": n}
                           for s, n in b["funnel"].items()])
    workers = pd.DataFrame([{k: v for k, v in b["workers"].items() if k != "top"}])
    coverage = pd.DataFrame([{k: v for k, v in b["coverage"].items() if k != "unvisited"}])
    return {
        "summary": pd.DataFrame({"text": summary_paragraphs(b, lang)}),
        "kpis": kpis, "categories": pd.DataFrame(b["by_category"], columns=["major_code", "major_name", "reported",
                                                                            "onsite"]),
        "hourly": hourly, "funnel": funnel,
        "communities": pd.DataFrame(b["communities"], columns=["id", "code", "name", "due", "closed",
                                                               "closed_on_time", "closure_rate", "on_time_rate",
                                                               "reported"]),
        "hot_grids": pd.DataFrame(b["hot_grids"], columns=["grid_id", "code", "name", "community_id", "lat", "lon",
                                                           "reported"]),
        "overdue": pd.DataFrame(b["overdue"], columns=["id", "code", "category", "grid_code", "grid_name", "state",
                                                       "sla_due_at", "overdue_hours", "worker", "department"]),
        "workers": workers, "top_workers": pd.DataFrame(b["workers"]["top"], columns=[
            "worker_id", "name", "reports", "onsite", "fixes", "patrols"]),
        "coverage": coverage, "unvisited": pd.DataFrame(b["coverage"]["unvisited"], columns=["grid_id", "code",
                                                                                             "name"]),
        "alerts": pd.DataFrame(b["alerts"]["notable"], columns=["id", "kind", "severity", "title", "state",
                                                                "created_at"]),
        "cases": pd.DataFrame(cases, columns=CASE_COLUMNS),
    }


def briefing_xlsx(b: dict[str, Any], cases: list[dict[str, Any]], lang: str = "zh-CN") -> bytes:
    """The workbook: a sheet per figure, named as in ``briefing_sheets``."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in briefing_sheets(b, cases, lang).items():
            neutralise_frame(df).to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            for col in ws.columns:
                ws.column_dimensions[col[0].column_letter].width = min(
                    60, max(10, *(len(str(c.value or "")) * 1.6 for c in col[:50])))
    return buf.getvalue()


def cases_csv(cases: list[dict[str, Any]]) -> bytes:
    """The case list as UTF-8 CSV with a BOM (Excel on Windows reads the Chinese correctly)."""
    buf = io.StringIO()
    wr = csv.DictWriter(buf, fieldnames=CASE_COLUMNS, extrasaction="ignore")
    wr.writeheader()
    wr.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in cases)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
