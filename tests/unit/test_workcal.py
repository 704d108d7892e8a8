"""The working calendar: weekends, the 2026 National Day holiday, a make-up workday, the lunch break."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings, strategies as st

from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar

CAL = WorkCalendar.official()


def sh(*a: int) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


def test_within_one_block():
    assert CAL.add_working_hours(sh(2026, 11, 25, 9, 0), 2) == sh(2026, 11, 25, 11, 0)
    assert CAL.working_hours_between(sh(2026, 11, 25, 9, 0), sh(2026, 11, 25, 11, 0)) == 2


def test_lunch_break_is_skipped():
    # 11:00 + 2 h: one hour before lunch (till 12:00), one after 14:00
    assert CAL.add_working_hours(sh(2026, 11, 25, 11, 0), 2) == sh(2026, 11, 25, 15, 0)
    assert CAL.working_hours_between(sh(2026, 11, 25, 11, 0), sh(2026, 11, 25, 15, 0)) == 2
    # a start inside the break counts from 14:00
    assert CAL.add_working_hours(sh(2026, 11, 25, 12, 30), 1) == sh(2026, 11, 25, 15, 0)
    assert CAL.working_hours_between(sh(2026, 11, 25, 12, 0), sh(2026, 11, 25, 14, 0)) == 0


def test_across_a_weekend():
    # Friday 2026-11-27 16:30 + 2 h → 1 h on Friday, 1 h on Monday morning
    assert CAL.add_working_hours(sh(2026, 11, 27, 16, 30), 2) == sh(2026, 11, 30, 9, 30)
    assert CAL.working_hours_between(sh(2026, 11, 27, 16, 30), sh(2026, 11, 30, 9, 30)) == 2
    assert CAL.working_hours_between(sh(2026, 11, 28, 0, 0), sh(2026, 11, 30, 0, 0)) == 0
    # a start on Saturday counts from Monday 08:30
    assert CAL.add_working_hours(sh(2026, 11, 28, 10, 0), 1) == sh(2026, 11, 30, 9, 30)


def test_national_day_holiday_and_make_up_workday():
    # Wednesday 2026-09-30 17:00 + 1 h: 30 min that day; 1–7 October are holidays;
    # Thursday 8 October 08:30 + 30 min
    assert CAL.add_working_hours(sh(2026, 9, 30, 17, 0), 1) == sh(2026, 10, 8, 9, 0)
    assert not any(CAL.is_workday(sh(2026, 10, d).date()) for d in range(1, 8))
    # Friday 9 October 17:00 + 1 h: Saturday 10 October is a make-up workday
    assert CAL.is_workday(sh(2026, 10, 10).date())
    assert CAL.add_working_hours(sh(2026, 10, 9, 17, 0), 1) == sh(2026, 10, 10, 9, 0)
    assert CAL.working_hours_between(sh(2026, 10, 10, 0, 0), sh(2026, 10, 11, 0, 0)) == 7
    assert CAL.working_hours_between(sh(2026, 10, 11, 0, 0), sh(2026, 10, 12, 0, 0)) == 0  # an ordinary Sunday
    # a whole week across the holiday: 28 Sep–11 Oct has 3 + 3 workdays (Mon–Wed; Thu, Fri, Sat 10th)
    assert CAL.working_hours_between(sh(2026, 9, 28), sh(2026, 10, 12)) == 6 * 7


def test_result_is_utc_and_end_before_start_is_zero():
    due = CAL.add_working_hours(sh(2026, 11, 25, 9, 0), 0.5)
    assert due.utcoffset() == timedelta(0)
    assert CAL.working_hours_between(sh(2026, 11, 25, 11), sh(2026, 11, 25, 9)) == 0.0


@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31)),
       minutes=st.integers(min_value=0, max_value=60 * 24 * 5))
def test_round_trip(start, minutes):
    """working_hours_between(start, add_working_hours(start, h)) == h, and the due time is in office hours."""
    start = start.replace(tzinfo=SHANGHAI)
    hours = minutes / 60
    due = CAL.add_working_hours(start, hours)
    assert abs(CAL.working_hours_between(start, due) - hours) < 1e-6
    assert due >= start
    if hours > 0:
        loc = due.astimezone(SHANGHAI)
        assert CAL.is_workday(loc.date())
        t = loc.time()
        assert any(a < t <= b for a, b in CAL.blocks), loc
