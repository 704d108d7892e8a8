"""The daily brief: at GC_BRIEF_AT (Asia/Shanghai) write yesterday's brief (PDF, Excel, CSV, text) to GC_BRIEF_DIR."""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ..timeutil import SHANGHAI, local, utcnow
from .briefing import briefing, case_list
from .exports import briefing_pdf, briefing_xlsx, cases_csv
from .summary import summary_text

log = logging.getLogger(__name__)


def brief_dir(settings) -> Path:
    """Where daily briefs go."""
    return settings.brief_dir or (settings.data_dir / "briefs")


def parse_at(value: str) -> time | None:
    """'07:30' → time(7, 30); '' or 'off' → None; anything else raises ValueError."""
    value = (value or "").strip().lower()
    if value in ("", "off", "none"):
        return None
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def write_brief(services, day: date, *, out_dir: Path | None = None, now: datetime | None = None) -> Path:
    """Write the street's brief for ``day`` into ``<dir>/<day>/``; returns that folder."""
    folder = (out_dir or brief_dir(services.settings)) / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with services.db.read() as s:
        b = briefing(s, day=day, calendar=services.calendar, now=now)
        cases = case_list(s, day=day)
    stem = f"briefing-{day.isoformat()}"
    for name, data in ((f"{stem}.pdf", briefing_pdf(b)), (f"{stem}.xlsx", briefing_xlsx(b, cases)),
                       (f"cases-{day.isoformat()}.csv", cases_csv(cases))):
        tmp = folder / (name + ".part")
        tmp.write_bytes(data)
        tmp.replace(folder / name)  # a reader never sees half a file
    (folder / f"{stem}.txt").write_text(summary_text(b) + "\n", encoding="utf-8")
    log.info("daily brief for %s written to %s", day, folder)
    return folder


def next_run(now: datetime, at: time) -> datetime:
    """The next instant (UTC-aware) when the local clock shows ``at``."""
    loc = local(now)
    run = datetime.combine(loc.date(), at, tzinfo=SHANGHAI)
    if run <= loc:
        run += timedelta(days=1)
    return run


def due_day(now: datetime, at: time) -> date | None:
    """The day whose brief should exist by ``now`` (yesterday once today's time has passed)."""
    loc = local(now)
    if loc.time() < at:
        return None
    return loc.date() - timedelta(days=1)


def brief_loop(services, term: threading.Event, *, clock=utcnow, poll_s: float = 30.0) -> None:
    """Run in the leader process: write yesterday's brief once a day (and catch up after a restart)."""
    try:
        at = parse_at(services.settings.brief_at)
    except ValueError:
        log.error("GC_BRIEF_AT=%r is not HH:MM; daily brief disabled", services.settings.brief_at)
        return
    if at is None:
        return
    while not term.is_set():
        day = due_day(clock(), at)
        if day is not None and not (brief_dir(services.settings) / day.isoformat() / f"briefing-{day}.pdf").exists():
            try:
                write_brief(services, day)
            except Exception:
                log.exception("daily brief for %s failed", day)
        wait = (next_run(clock(), at) - clock()).total_seconds()
        term.wait(max(1.0, min(poll_s, wait)))
