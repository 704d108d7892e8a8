"""The written summary of a briefing, from templates in dashboard/i18n/briefing.json (no outside service)."""
from __future__ import annotations

from typing import Any

from ..i18n import normalise_lang, place_name, t

WEEKDAYS = {"zh-CN": "一二三四五六日", "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def pct(v: float | None) -> str:
    """0.8125 → '81.3%'; None → '—'."""
    return "—" if v is None else f"{v * 100:.1f}%"


def hours(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def km(v: float | None) -> str:
    """Kilometres with two decimals: 0.25 → '0.25'; None → '—'."""
    return "—" if v is None else f"{v:.2f}"


def change(now: float | int | None, before: float | int | None, lang: str, *, rate: bool = False) -> str:
    """'增加 3 件（+25.0%）' / '减少 …' / '持平' for counts; percentage points for rates."""
    if now is None or before is None:
        return t("brief.sum.no_compare", lang)
    d = now - before
    if abs(d) < 1e-9:
        return t("brief.sum.same", lang)
    key = "brief.sum.up" if d > 0 else "brief.sum.down"
    if rate:
        return t(key + "_pp", lang, n=f"{abs(d) * 100:.1f}")
    rel = "" if not before else (f"（{d / before * 100:+.1f}%）" if normalise_lang(lang) == "zh-CN"
                                 else f" ({d / before * 100:+.1f}%)")
    return t(key, lang, n=f"{abs(int(d))}", rel=rel)


def weekday_name(iso_weekday: int, lang: str) -> str:
    lang = normalise_lang(lang)
    return ("星期" + WEEKDAYS["zh-CN"][iso_weekday - 1]) if lang == "zh-CN" else WEEKDAYS["en"][iso_weekday - 1]


def summary_paragraphs(b: dict[str, Any], lang: str = "zh-CN") -> list[str]:
    """The summary as a few short paragraphs (what the page, the PDF and the daily file show)."""
    k = {row["key"]: row for row in b["kpis"]}
    v = {key: row["value"] for key, row in k.items()}
    day_label = t("brief.sum.day", lang, day=b["day"], weekday=weekday_name(b["weekday"], lang),
                  holiday=(t("brief.sum.holiday", lang, name=b["holiday"]) if b.get("holiday") else ""))
    paras = [t("brief.sum.reported", lang, day=day_label, scope=place_name(b["scope_name"], lang), n=v["reported"],
               vs_day=change(v["reported"], k["reported"]["yesterday"], lang),
               vs_week=change(v["reported"], k["reported"]["last_week"], lang),
               onsite=v["onsite"], onsite_rate=pct(v["onsite_rate"]), escalated=v["escalated"])]
    handled = b.get("counts", {}).get("handled", 0 if v["avg_handling_hours"] is None else 1)
    paras.append(t("brief.sum.closed", lang, closed=v["closed"], closure_rate=pct(v["closure_rate"]),
                   on_time_rate=pct(v["on_time_rate"]),
                   vs_day=change(v["on_time_rate"], k["on_time_rate"]["yesterday"], lang, rate=True))
                 + (t("brief.sum.handling", lang, n=handled, hours=hours(v["avg_handling_hours"]),
                      work_hours=hours(v["avg_handling_work_hours"])) if handled and v["avg_handling_hours"] is not None
                    else t("brief.sum.no_handling", lang)))
    paras.append(t("brief.sum.overdue", lang, n=v["overdue"],
                   vs_day=change(v["overdue"], k["overdue"]["yesterday"], lang)))
    if b["by_category"] and b["hot_grids"]:
        c, g = b["by_category"][0], b["hot_grids"][0]
        paras.append(t("brief.sum.hot", lang, category=place_name(c["major_name"], lang) or c["major_code"],
                       cn=c["reported"], grid=place_name(g["name"], lang), code=g["code"], gn=g["reported"]))
    cov, w = b["coverage"], b["workers"]
    paras.append(t("brief.sum.coverage", lang, active=w["active"], workers=w["workers"], covered=cov["any"],
                   grids=cov["grids"], rate=pct(cov["any_rate"]), unvisited=cov["unvisited_count"],
                   km=km(w["patrol_km"])))
    a = b["alerts"]
    paras.append(t("brief.sum.alerts", lang, n=a["count"], unresolved=a["unresolved"]) if a["count"]
                 else t("brief.sum.no_alerts", lang))
    sat, vis = (b.get("satisfaction") or {}).get("total"), b.get("visits")
    if sat and sat["reports"]:  # residents in the loop (issue 31): said only when there is something to say
        median = sat["response_median_min"]
        key = "brief.sum.residents" if sat["answered"] else "brief.sum.residents_unrated"  # no "— satisfied"
        paras.append(t(key, lang, days=b["satisfaction"].get("days", 30), n=sat["reports"],
                       median="—" if median is None else t("brief.sat.minutes", lang, n=f"{median:g}"),
                       closed=sat["closed"], answered=sat["answered"], share=pct(sat["satisfied_share"]),
                       rework=sat["rework"]))
    if vis and vis["count"]:
        paras.append(t("brief.sum.visits", lang, n=vis["count"], household=vis["household"], place=vis["place"],
                       follow_ups=vis["follow_ups"], cases=vis["cases"]))
    return paras


def summary_text(b: dict[str, Any], lang: str = "zh-CN") -> str:
    """The summary as one text (paragraphs joined by newlines)."""
    return "\n".join(summary_paragraphs(b, lang))
