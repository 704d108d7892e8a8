"""WorkCalendar.subtract_working_hours: the inverse of add_working_hours on the 2026 calendar."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings, strategies as st

from dashboard.timeutil import SHANGHAI
from dashboard.workcal import WorkCalendar

CAL = WorkCalendar.official()
BASE = datetime(2026, 1, 1, tzinfo=SHANGHAI)


def sh(*a) -> datetime:
    return datetime(*a, tzinfo=SHANGHAI)


def test_hand_computed():
    assert CAL.subtract_working_hours(sh(2026, 11, 30, 10), 8) == sh(2026, 11, 27, 9)       # over a weekend
    assert CAL.subtract_working_hours(sh(2026, 10, 8, 9), 3) == sh(2026, 9, 30, 15)         # over National Day
    assert CAL.subtract_working_hours(sh(2026, 11, 30, 15), 2) == sh(2026, 11, 30, 11)      # lunch does not count
    assert CAL.subtract_working_hours(sh(2026, 10, 10, 9), 1) == sh(2026, 10, 9, 17)        # Sat 10 Oct is a workday
    assert CAL.subtract_working_hours(sh(2026, 11, 29, 12), 1) == sh(2026, 11, 27, 16, 30)  # from a Sunday


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(0, 364 * 24 * 60), hours=st.floats(0.25, 60))
def test_round_trip(minutes, hours):
    end = BASE + timedelta(minutes=minutes)
    start = CAL.subtract_working_hours(end, hours)
    assert start <= end
    assert abs(CAL.working_hours_between(start, end) - hours) < 1e-6
    # the latest such start: moving it one minute later leaves less than ``hours``
    assert CAL.working_hours_between(start + timedelta(minutes=1), end) < hours


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 364 * 24 * 60), st.integers(0, 20 * 24 * 60)), min_size=1, max_size=30))
def test_vectorised_between_matches_the_loop(spans):
    starts = [BASE + timedelta(minutes=a) for a, _ in spans]
    ends = [s + timedelta(minutes=d) for s, (_, d) in zip(starts, spans)]
    got = CAL.working_hours_between_many(starts + [None], ends + [ends[0]])
    want = [CAL.working_hours_between(a, b) for a, b in zip(starts, ends)]
    assert all(abs(g - w) < 1e-6 for g, w in zip(got[:-1], want)) and got[-1] != got[-1]
