"""Where the working calendar's holidays come from: chinese-calendar, a local table on top, a warning past both."""
from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar


def test_state_council_schedule_from_the_package():
    cal = WorkCalendar.official(local=None, today=date(2026, 6, 1))
    assert cal.covers(2026) and cal.covers(2004)
    # 2026: Spring Festival 2-15…2-23 off, Saturday 2-14 and 2-28 worked; National Day 10-1…10-7, 9-20 and 10-10 worked
    assert not cal.is_workday(date(2026, 2, 16)) and cal.names[date(2026, 2, 16)] == "春节"
    assert cal.is_workday(date(2026, 2, 14)) and cal.names[date(2026, 2, 14)] == "春节调休上班"
    assert [cal.is_workday(date(2026, 10, d)) for d in range(1, 11)] == [False] * 7 + [True] * 3  # 10-10: Saturday
    assert cal.is_workday(date(2026, 9, 20))  # a Sunday worked
    # an older year proves the table is not one hand-copied year: 2019's National Day, 9-29 (Sunday) worked
    assert not cal.is_workday(date(2019, 10, 1)) and cal.is_workday(date(2019, 9, 29))


def test_vectorised_hours_follow_the_package_schedule():
    cal = WorkCalendar.official(local=None, today=date(2026, 6, 1))
    a = [datetime(2026, 9, 30, 8, 30, tzinfo=SHANGHAI), datetime(2026, 9, 18, 8, 30, tzinfo=SHANGHAI)]
    b = [datetime(2026, 10, 9, 8, 30, tzinfo=SHANGHAI), datetime(2026, 9, 21, 8, 30, tzinfo=SHANGHAI)]
    # 9-30 is a workday (7 h), 10-1…10-7 off, 10-8 a Thursday (7 h) → 14 h; 9-18 Fri (7 h) + 9-20 Sun worked (7 h) → 14 h
    assert list(cal.working_hours_between_many(a, b)) == [14.0, 14.0]
    assert [cal.working_hours_between(x, y) for x, y in zip(a, b)] == [14.0, 14.0]


def test_local_rows_win_and_extend_the_years(tmp_path):
    table = tmp_path / "local.csv"
    table.write_text("date,kind,name\n2027-01-01,holiday,元旦\n2026-10-08,workday,本中心值守\n"
                     "2026-02-14,holiday,本中心调休\n", encoding="utf-8")
    cal = WorkCalendar.official(local=table, today=date(2027, 1, 4))
    assert cal.covers(2027) and not cal.is_workday(date(2027, 1, 1))  # a Friday, off by the local row
    assert cal.is_workday(date(2026, 10, 8))  # a National Day holiday the center works
    assert not cal.is_workday(date(2026, 2, 14)) and cal.names[date(2026, 2, 14)] == "本中心调休"


@pytest.mark.parametrize("today, warned", [(date(2026, 12, 31), False), (date(2027, 1, 1), True)])
def test_warns_at_start_when_the_year_is_not_covered(caplog, today, warned):
    """chinesecalendar 1.11.0 knows 2004–2026; from 2027 on (until an upgrade or local rows) the start warns."""
    with caplog.at_level(logging.WARNING, logger="dashboard.workcal"):
        cal = WorkCalendar.official(local=None, today=today)
    said = [r.getMessage() for r in caplog.records if r.name == "dashboard.workcal"]
    assert bool(said) is warned and cal.covers(today.year) is not warned
    if warned:
        assert "no holiday schedule for 2027" in said[0] and "2004–2026" in said[0]
    # why it warns: an uncovered year is plain weekdays and weekends, 元旦 2027 (a Friday) counts as a workday
    assert cal.is_workday(date(2027, 1, 1))


def test_a_table_with_an_unknown_kind_is_refused(tmp_path):
    table = tmp_path / "bad.csv"
    table.write_text("date,kind,name\n2027-01-01,vacation,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="kind must be holiday or workday"):
        WorkCalendar.official(local=table)
