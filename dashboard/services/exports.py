"""Briefing exports: a PDF with Chinese text in an embedded font (an OFL subset of Noto Sans SC shipped in
dashboard/fonts, nothing downloaded), an Excel workbook with the day's summary first and one sheet per figure,
and the day's case list as CSV."""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import pandas as pd

from ..i18n import t
from .summary import hours, km, pct, summary_paragraphs

CJK_FONT = "STSong-Light"  # Adobe-GB1 CID font that ships inside reportlab (no font file needed)
RATE_KEYS = {"closure_rate", "on_time_rate", "onsite_rate"}
HOUR_KEYS = {"avg_handling_hours", "avg_handling_work_hours"}
CASE_COLUMNS = ["code", "major", "category", "grid_code", "grid_name", "state", "onsite", "reporter",
                "created_at", "dispatched_at", "closed_at"]


# A text cell starting with one of these is read by Excel/LibreOffice as a formula (or, after a tab or CR,
# may become one when pasted): OWASP's CSV injection rule. Names, titles and descriptions are typed by
# people outside the control room (Open311 clients, CAP senders, imported tables, residents on /r). The full-width
# forms a Chinese IME types (＝＋－＠) count too: Excel turns "＝1+1" into a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


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


FONT_FILE = Path(__file__).resolve().parents[1] / "fonts" / "NotoSansSC-GCSubset.ttf.gz"  # OFL: fonts/OFL.txt
EMBEDDED_FONT = "GCNotoSansSC"  # embedded in every PDF (reportlab writes only the glyphs used)
_covered: frozenset[int] = frozenset()


def _font() -> str:
    """Register the embedded CJK font (once) and the built-in CID font kept for characters outside its subset."""
    global _covered
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    names = pdfmetrics.getRegisteredFontNames()
    if CJK_FONT not in names:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    if EMBEDDED_FONT not in names:
        font = TTFont(EMBEDDED_FONT, io.BytesIO(gzip.decompress(FONT_FILE.read_bytes())))
        pdfmetrics.registerFont(font)
        _covered = frozenset(font.face.charToGlyph)
    return EMBEDDED_FONT


def _markup(text: Any) -> str:
    """Paragraph markup for ``text``: escaped, any character the embedded subset lacks set in the CID font."""
    from xml.sax.saxutils import escape

    out = []
    for ch in "" if text is None else str(text):
        e = escape(ch)
        out.append(e if ord(ch) in _covered or ch in "\n\t" else f'<font name="{CJK_FONT}">{e}</font>')
    return "".join(out)


def _table(rows: list[list[Any]], widths: list[float] | None = None):
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table, TableStyle

    cell = ParagraphStyle("cell", fontName=EMBEDDED_FONT, fontSize=9, leading=12, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, textColor=colors.white)
    data = [[Paragraph(_markup(c), head if i == 0 else cell) for c in r] for i, r in enumerate(rows)]
    tbl = Table(data, colWidths=widths, repeatRows=1)
    tbl.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#0b3d6b")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa7b5")), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#eef3f8")])]))
    return tbl


def _hourly_chart(b: dict[str, Any], lang: str):
    """The hourly chart as vector graphics (reportlab shapes), with its legend."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    d = Drawing(480, 170)
    ch = VerticalBarChart()
    ch.x, ch.y, ch.width, ch.height = 30, 20, 440, 120
    ch.data = [b["hourly"]["reported"], b["hourly"]["closed"]]
    ch.categoryAxis.categoryNames = [str(h) for h in range(24)]
    ch.categoryAxis.labels.fontSize = ch.valueAxis.labels.fontSize = 7
    ch.valueAxis.valueMin = 0
    blue, green = colors.HexColor("#1d5a8c"), colors.HexColor("#3aa76d")
    ch.bars[0].fillColor, ch.bars[1].fillColor = blue, green
    d.add(ch)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = 40, 162, EMBEDDED_FONT, 8
    legend.alignment, legend.columnMaximum, legend.deltax = "right", 1, 70
    legend.colorNamePairs = [(blue, t("brief.hourly.reported", lang)), (green, t("brief.hourly.closed", lang))]
    d.add(legend)
    return d


def briefing_pdf(b: dict[str, Any], lang: str = "zh-CN") -> bytes:
    """The printable brief: title, summary, KPI table, hourly chart and the detail tables. The CJK font is
    embedded (an OFL subset of Noto Sans SC), every page carries its number and the day in the footer, a heading
    is never left alone at a page's foot, and the chart is vector graphics."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = _font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=16, leading=22, spaceAfter=4, keepWithNext=1)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4, keepWithNext=1)
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=16, wordWrap="CJK")
    small = ParagraphStyle("s", fontName=font, fontSize=8, leading=11, textColor="#5a6b7b")
    title = f"{b['scope_name']} {t('brief.title', lang)} {b['day']}"
    story: list[Any] = [
        Paragraph(_markup(title), h1),
        Paragraph(_markup(f"{t('brief.generated', lang)}: {b['generated_at']}"), small),
        Paragraph(_markup(t("brief.summary", lang)), h2)]
    story += [Paragraph(_markup(p), body) for p in summary_paragraphs(b, lang)]
    cmp = b.get("compare", {"yesterday": True, "last_week": True})
    no_cmp = t("brief.sum.no_compare", lang)
    story += [Paragraph(_markup(t("brief.col.indicator", lang)), h2), _table(
        [[t("brief.col.indicator", lang), t("brief.col.today", lang), t("brief.col.yesterday", lang),
          t("brief.col.last_week", lang)]]
        + [[t(f"brief.kpi.{k['key']}", lang), fmt_kpi(k["key"], k["value"]),
            fmt_kpi(k["key"], k["yesterday"]) if cmp["yesterday"] else no_cmp,
            fmt_kpi(k["key"], k["last_week"]) if cmp["last_week"] else no_cmp] for k in b["kpis"]],
        [70 * mm, 35 * mm, 35 * mm, 40 * mm])]
    story += [Paragraph(_markup(t("brief.hourly", lang)), h2), _hourly_chart(b, lang)]
    for heading, rows in _sections(b, lang):
        story += [Paragraph(_markup(heading), h2),
                  _table(rows) if len(rows) > 1 else Paragraph(_markup(t("brief.none", lang)), body)]
    story.append(Spacer(1, 6 * mm))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColorRGB(0.35, 0.42, 0.48)
        canvas.drawString(15 * mm, 8 * mm, title)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, t("brief.page", lang, n=doc.page))
        canvas.restoreState()

    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=18 * mm, title=title).build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _sections(b: dict[str, Any], lang: str) -> list[tuple[str, list[list[Any]]]]:
    """(title, rows with a header) for every detail table; shared by the PDF."""
    from ..i18n import localize_json

    b = localize_json(b, lang)  # the street's places and categories named in ``lang``
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
        (t("brief.hot_grids", lang), [[t("brief.grid", lang), t("brief.grid_name", lang), t("brief.count", lang)]]
         + [[g["code"], g["name"], g["reported"]] for g in b["hot_grids"]]),
        (t("brief.overdue", lang), [[t("brief.case_code", lang), t("brief.category", lang), t("brief.grid", lang),
                                     t("brief.overdue_hours", lang), t("brief.worker", lang)]]
         + [[o["code"], o["category"], o["grid_name"], o["overdue_hours"], o["worker"] or o["department"] or ""]
            for o in b["overdue"][:30]]),
        (t("brief.workers", lang), [[t("brief.workers.active", lang), t("brief.workers.fixes", lang),
                                     t("brief.workers.reports", lang), t("brief.workers.patrols", lang),
                                     t("brief.workers.km", lang)],
                                    [f"{w['active']}/{w['workers']}", w["fixes"], w["reports"], w["foot_patrols"],
                                     km(w["patrol_km"])]]),
        (t("brief.sheet.top_workers", lang), [[t("brief.worker", lang), t("brief.workers.reports", lang),
                                               t("brief.kpi.onsite", lang), t("brief.workers.km", lang)]]
         + [[x["name"], x["reports"], x["onsite"], km(x.get("km"))] for x in w["top"]]),
        (t("brief.sheet.km_by_grid", lang), [[t("brief.grid", lang), t("brief.grid_name", lang),
                                              t("brief.workers.km", lang)]]
         + [[g["code"], g["name"], km(g["km"])] for g in w.get("km_by_grid", [])]),
        (t("brief.coverage", lang), [[t("brief.coverage.foot", lang), t("brief.coverage.mouse", lang),
                                      t("brief.coverage.any", lang), t("brief.coverage.unvisited", lang)],
                                     [f"{cov['foot']}/{cov['grids']}", f"{cov['mouse']}/{cov['grids']}",
                                      f"{cov['any']}/{cov['grids']} ({pct(cov['any_rate'])})",
                                      cov["unvisited_count"]]]),
        (t("brief.alerts", lang), [[t("brief.time", lang), t("brief.alert.severity", lang),
                                    t("brief.alert.title", lang)]]
         + [[a["created_at"][11:16], t(f"brief.sev.{a['severity']}", lang), a["title"][:40]]
            for a in b["alerts"]["notable"]]),
        *_residents_sections(b, lang),
    ]


def _residents_sections(b: dict[str, Any], lang: str) -> list[tuple[str, list[list[Any]]]]:
    """The PDF's residents' satisfaction (the scope, then each community) and the day's visits (issue 31)."""
    out: list[tuple[str, list[list[Any]]]] = []
    sat, vis = b.get("satisfaction"), b.get("visits")

    def mins(v: Any) -> str:
        return "—" if v is None else f"{v:g}"

    if sat:
        head = [t("brief.community", lang)] + [t(f"brief.sat.{k}", lang) for k in (
            "reports", "response_median_min", "response_p90_min", "answered_share", "satisfied_share", "rework")]
        rows = [[name, x["reports"], mins(x["response_median_min"]), mins(x["response_p90_min"]),
                 pct(x["answered_share"]), pct(x["satisfied_share"]), x["rework"]]
                for name, x in [(t("brief.sat.scope_total", lang), sat["total"])]
                + [(c["name"], c) for c in sat["communities"]]]
        out.append((t("brief.sat.title", lang, days=sat.get("days", 30)), [head] + rows))
    if vis:
        keys = ("count", "household", "place", "follow_ups", "cases", "workers")
        out.append((t("brief.visits.title", lang), [[t(f"brief.visits.{k}", lang) for k in keys],
                                                    [vis[k] for k in keys]]))
    return out


PCT, HRS, KM, INT = "0.0%", "0.0", "0.00", "0"  # Excel number formats: rates stay fractions, shown in %


class Sheet:
    """One worksheet: a title, headed columns (text, number format or None), rows of values (numbers stay numbers)."""

    def __init__(self, name: str, columns: list[tuple[str, str | None]], rows: list[list[Any]],
                 row_formats: list[str | None] | None = None) -> None:
        self.name, self.columns, self.rows = name, columns, rows
        self.row_formats = row_formats or [None] * len(rows)  # for columns whose format is "row": one per row

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=[c for c, _ in self.columns])


def _local(ts: str | None) -> str:
    """An ISO UTC stamp as the local (Asia/Shanghai) time a reader expects: 'YYYY-MM-DD HH:MM'."""
    if not ts:
        return ""
    from datetime import datetime

    from ..timeutil import SHANGHAI

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _kpi_format(key: str) -> str:
    return PCT if key in RATE_KEYS else HRS if key in HOUR_KEYS else INT


def case_rows(cases: list[dict[str, Any]], lang: str) -> tuple[list[str], list[list[Any]]]:
    """The case list's headers and rows as a reader wants them: labels for codes, local times (CSV and Excel)."""
    from ..i18n import label, place_name

    head = [t("brief.case_code", lang), t("brief.col.major", lang), t("brief.col.subcategory", lang),
            t("brief.grid", lang), t("brief.grid_name", lang), t("brief.state", lang), t("brief.col.onsite", lang),
            t("brief.col.reporter", lang), t("brief.col.created_at", lang), t("brief.col.dispatched_at", lang),
            t("brief.col.closed_at", lang)]
    rows = [[c["code"], place_name(c["major"], lang), place_name(c["category"], lang), c["grid_code"],
             place_name(c["grid_name"], lang), label("case.state", c["state"], lang),
             t("brief.yes" if c["onsite"] else "brief.no", lang), c["reporter"], _local(c["created_at"]),
             _local(c["dispatched_at"]), _local(c["closed_at"])] for c in cases]
    return head, rows


def briefing_sheets(b: dict[str, Any], cases: list[dict[str, Any]], lang: str = "zh-CN") -> list[Sheet]:
    """Every sheet of the workbook, the day's summary first; sheet names and headers in ``lang``, codes as labels."""
    from ..i18n import label, localize_json

    b = localize_json(b, lang)  # the street's places and categories named in ``lang`` (case rows: case_rows)

    def h(key: str) -> str:
        return t(key, lang)

    w, cov, f = b["workers"], b["coverage"], b["funnel"]
    cmp = b.get("compare", {"yesterday": True, "last_week": True})
    no_cmp = h("brief.sum.no_compare")

    def kpi_row(k: dict[str, Any]) -> list[Any]:
        return [h(f"brief.kpi.{k['key']}"), k["value"], k["yesterday"] if cmp["yesterday"] else no_cmp,
                k["last_week"] if cmp["last_week"] else no_cmp,
                k["delta_day"] if cmp["yesterday"] else no_cmp, k["delta_week"] if cmp["last_week"] else no_cmp]

    kpi_cols = [(h("brief.col.indicator"), None), (h("brief.col.today"), "row"), (h("brief.col.yesterday"), "row"),
                (h("brief.col.last_week"), "row"), (h("brief.col.delta_day"), "row"),
                (h("brief.col.delta_week"), "row")]
    kpi_formats: list[str | None] = [_kpi_format(k["key"]) for k in b["kpis"]]
    summary_rows: list[list[Any]] = [
        [h("brief.day"), f"{b['day']}"], [h("brief.col.scope"), b["scope_name"]],
        [h("brief.generated"), _local(b["generated_at"])]]
    summary_rows += [[h(f"brief.kpi.{k['key']}"), k["value"]] for k in b["kpis"]]
    summary_rows += [[h("brief.workers.active"), f"{w['active']}/{w['workers']}"],
                     [h("brief.workers.km"), w["patrol_km"]],
                     [h("brief.coverage.any"), cov["any_rate"]],
                     [h("brief.alerts"), b["alerts"]["count"]]]
    paras = summary_paragraphs(b, lang)
    summary_rows += [[h("brief.col.summary") if i == 0 else "", p] for i, p in enumerate(paras)]
    summary_formats = [None, None, None] + kpi_formats + [None, KM, PCT, INT] + [None] * len(paras)
    case_head, case_body = case_rows(cases, lang)
    yesterday = b["hourly"].get("reported_yesterday")
    return [
        Sheet(h("brief.sheet.summary"), [(h("brief.col.item"), None), (h("brief.col.value"), "row")],
              summary_rows, summary_formats),
        Sheet(h("brief.sheet.kpis"), kpi_cols, [kpi_row(k) for k in b["kpis"]], kpi_formats),
        Sheet(h("brief.sheet.categories"), [(h("brief.col.major"), None), (h("brief.kpi.reported"), INT),
                                            (h("brief.kpi.onsite"), INT)],
              [[c["major_name"] or c["major_code"], c["reported"], c["onsite"]] for c in b["by_category"]]),
        Sheet(h("brief.sheet.hourly"), [(h("brief.col.hour"), None), (h("brief.hourly.reported"), INT),
                                        (h("brief.hourly.closed"), INT)]
              + ([(h("brief.hourly.reported_yesterday"), INT)] if yesterday is not None else []),
              [[f"{i:02d}:00–{i + 1:02d}:00", b["hourly"]["reported"][i], b["hourly"]["closed"][i]]
               + ([yesterday[i]] if yesterday is not None else []) for i in range(24)]),
        Sheet(h("brief.sheet.funnel"), [(h("brief.col.stage"), None), (h("brief.count"), INT)],
              [[h(f"brief.funnel.{s}"), f[s]] for s in ("reported", "onsite", "escalated", "dispatched", "feedback",
                                                        "closed")]),
        Sheet(h("brief.sheet.communities"), [(h("brief.col.community_code"), None), (h("brief.community"), None),
                                             (h("brief.kpi.reported"), INT), (h("brief.due"), INT),
                                             (h("brief.col.closed"), INT), (h("brief.col.closed_on_time"), INT),
                                             (h("brief.kpi.closure_rate"), PCT), (h("brief.kpi.on_time_rate"), PCT)],
              [[c["code"], c["name"], c["reported"], c["due"], c["closed"], c["closed_on_time"], c["closure_rate"],
                c["on_time_rate"]] for c in b["communities"]]),
        Sheet(h("brief.sheet.hot_grids"), [(h("brief.grid"), None), (h("brief.grid_name"), None),
                                           (h("brief.count"), INT)],
              [[g["code"], g["name"], g["reported"]] for g in b["hot_grids"]]),
        Sheet(h("brief.sheet.overdue"), [(h("brief.case_code"), None), (h("brief.category"), None),
                                         (h("brief.grid"), None), (h("brief.grid_name"), None),
                                         (h("brief.state"), None), (h("brief.due_at"), None),
                                         (h("brief.overdue_hours"), HRS), (h("brief.worker"), None),
                                         (h("brief.col.department"), None)],
              [[o["code"], o["category"], o["grid_code"] or "", o["grid_name"] or "", label("case.state", o["state"], lang),
                _local(o["sla_due_at"]), o["overdue_hours"], o["worker"] or "", o["department"] or ""]
               for o in b["overdue"]]),
        Sheet(h("brief.sheet.workers"), [(h("brief.col.active"), INT), (h("brief.col.workers"), INT),
                                         (h("brief.workers.fixes"), INT), (h("brief.workers.reports"), INT),
                                         (h("brief.kpi.onsite"), INT), (h("brief.workers.patrols"), INT),
                                         (h("brief.workers.km"), KM)],
              [[w["active"], w["workers"], w["fixes"], w["reports"], w["onsite"], w["foot_patrols"], w["patrol_km"]]]),
        Sheet(h("brief.sheet.top_workers"), [(h("brief.worker"), None), (h("brief.workers.reports"), INT),
                                             (h("brief.kpi.onsite"), INT), (h("brief.workers.fixes"), INT),
                                             (h("brief.workers.patrols"), INT), (h("brief.workers.km"), KM)],
              [[x["name"], x["reports"], x["onsite"], x["fixes"], x["patrols"], x.get("km", 0.0)] for x in w["top"]]),
        Sheet(h("brief.sheet.km_by_grid"), [(h("brief.grid"), None), (h("brief.grid_name"), None),
                                            (h("brief.workers.km"), KM)],
              [[g["code"], g["name"], g["km"]] for g in w.get("km_by_grid", [])]),
        Sheet(h("brief.sheet.coverage"), [(h("brief.col.grids"), INT), (h("brief.coverage.foot"), INT),
                                          (h("brief.coverage.mouse"), INT), (h("brief.coverage.any"), INT),
                                          (h("brief.col.rate"), PCT), (h("brief.coverage.unvisited"), INT)],
              [[cov["grids"], cov["foot"], cov["mouse"], cov["any"], cov["any_rate"], cov["unvisited_count"]]]),
        Sheet(h("brief.sheet.unvisited"), [(h("brief.grid"), None), (h("brief.grid_name"), None)],
              [[u["code"], u["name"]] for u in cov["unvisited"]]),
        Sheet(h("brief.sheet.alerts"), [(h("brief.time"), None), (h("brief.col.kind"), None),
                                        (h("brief.alert.severity"), None), (h("brief.alert.title"), None),
                                        (h("brief.state"), None)],
              [[_local(a["created_at"]), label("alert.kind", a["kind"], lang),
                label("alert.severity", a["severity"], lang), a["title"], label("alert.state", a["state"], lang)]
               for a in b["alerts"]["notable"]]),
        *residents_sheets(b, lang),
        Sheet(h("brief.sheet.cases"), [(c, None) for c in case_head], case_body),
    ]


def residents_sheets(b: dict[str, Any], lang: str) -> list[Sheet]:
    """Residents' satisfaction (the scope's total, then each community) and the day's visits (issue 31)."""
    sat, vis = b.get("satisfaction"), b.get("visits")
    out: list[Sheet] = []
    if sat:
        keys = [("reports", INT), ("responded", INT), ("response_median_min", HRS), ("response_p90_min", HRS),
                ("closed", INT), ("answered", INT), ("answered_share", PCT), ("satisfied", INT), ("basic", INT),
                ("unsatisfied", INT), ("satisfied_share", PCT), ("rework", INT)]
        cols: list[tuple[str, str | None]] = [(t("brief.col.community_code", lang), None),
                                              (t("brief.community", lang), None)]
        cols += [(t(f"brief.sat.{k}", lang), fmt) for k, fmt in keys]
        rows = [["", f"{b['scope_name']} {t('brief.sat.scope_total', lang)} ({sat['first_day']}–{sat['last_day']})"]
                + [sat["total"][k] for k, _ in keys]]
        rows += [[c["code"], c["name"]] + [c[k] for k, _ in keys] for c in sat["communities"]]
        rows += [[g["code"], g["name"]] + [g[k] for k, _ in keys] for g in sat["grids"]]  # then each grid reported from
        out.append(Sheet(t("brief.sheet.satisfaction", lang), cols, rows))
    if vis:
        vkeys = ("count", "household", "place", "follow_ups", "cases", "workers")
        out.append(Sheet(t("brief.sheet.visits", lang), [(t(f"brief.visits.{k}", lang), INT) for k in vkeys],
                         [[vis[k] for k in vkeys]]))
    return out


def _width(v: Any) -> float:
    """How wide a cell's text shows: a CJK character takes two columns."""
    text = "" if v is None else str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def briefing_xlsx(b: dict[str, Any], cases: list[dict[str, Any]], lang: str = "zh-CN") -> bytes:
    """The workbook to forward: the day's summary first, one sheet per figure; headers bold and frozen, number
    formats on rates (%), hours and kilometres, widths from the content, every text cell neutralised."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    head_font, head_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="0B3D6B")
    for sh in briefing_sheets(b, cases, lang):
        ws = wb.create_sheet(sh.name[:31])
        ws.append([neutralise_cell(c) for c, _ in sh.columns])
        for cell in ws[1]:
            cell.font, cell.fill = head_font, head_fill
        for i, row in enumerate(sh.rows):
            ws.append([neutralise_cell(v) for v in row])
            for j, (_, fmt) in enumerate(sh.columns):
                cell = ws.cell(row=i + 2, column=j + 1)
                if fmt == "row":  # the KPI rows: each row its own unit
                    fmt = sh.row_formats[i]
                if fmt and isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"
        for j, (title, _) in enumerate(sh.columns):
            widest = max([_width(title)] + [_width(r[j]) for r in sh.rows[:200]])
            ws.column_dimensions[get_column_letter(j + 1)].width = max(8, min(60, widest + 2))
        if sh.name == t("brief.sheet.summary", lang):
            for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
                row[0].alignment = Alignment(wrap_text=True, vertical="top")
            ws.column_dimensions["B"].width = 80
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def cases_csv(cases: list[dict[str, Any]], lang: str = "zh-CN") -> bytes:
    """The case list as UTF-8 CSV with a BOM (Excel on Windows reads the Chinese correctly): headers in ``lang``,
    states as labels, local times, every cell neutralised."""
    head, rows = case_rows(cases, lang)
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow([neutralise_cell(h) for h in head])
    wr.writerows([neutralise_cell(v) for v in row] for row in rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
