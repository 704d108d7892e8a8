"""--sim-hour moves the server's clock (#27 item 7): the wall's clock, its hourly chart and "today" follow it."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dashboard.app import sim_clock_offset
from dashboard.config import Settings
from dashboard.timeutil import SHANGHAI, UTC, clock_offset_s, local, set_clock_offset, sim_hour_offset_s, utcnow


@pytest.fixture(autouse=True)
def real_clock():
    set_clock_offset(0)
    yield
    set_clock_offset(0)


def test_the_offset_puts_todays_local_clock_at_the_simulated_hour():
    real = datetime(2026, 12, 7, 3, 0, 20, tzinfo=SHANGHAI)  # 03:00:20 in Xi'an
    off = sim_hour_offset_s(15, real)
    assert off == 12 * 3600 - 0  # whole minutes, rounded up: the clock reads 15:00:20
    shifted = local(real + timedelta(seconds=off))
    assert (shifted.date(), shifted.hour, shifted.minute, shifted.second) == (real.date(), 15, 0, 20)
    odd = datetime(2026, 12, 7, 10, 53, 40, tzinfo=SHANGHAI)  # never 14:59:40 for --sim-hour 15
    at = local(odd + timedelta(seconds=sim_hour_offset_s(15, odd)))
    assert (at.hour, at.minute, at.second) == (15, 0, 40)
    late = datetime(2026, 12, 7, 23, 40, tzinfo=SHANGHAI)  # an earlier hour: the clock goes back, same day
    back = local(late + timedelta(seconds=sim_hour_offset_s(9.5, late)))
    assert (back.date(), back.hour, back.minute) == (late.date(), 9, 30)


def test_utcnow_follows_the_offset_and_zero_is_the_real_clock():
    before = datetime.now(UTC)
    set_clock_offset(5 * 3600)
    assert clock_offset_s() == 5 * 3600
    assert timedelta(hours=5) <= utcnow() - before < timedelta(hours=5, seconds=5)
    set_clock_offset(0)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=1)


def test_settings_give_the_offset_only_with_a_sim_hour_and_a_pinned_one_wins():
    assert sim_clock_offset(Settings.from_env(env={})) == 0
    with_hour = Settings.from_env(env={}, sim_hour=15.0)
    loc = local(datetime.now(UTC) + timedelta(seconds=sim_clock_offset(with_hour)))
    assert (loc.hour, loc.minute) == (15, 0)
    pinned = Settings.from_env(env={"GC_SIM_CLOCK_OFFSET_S": "3600"}, sim_hour=15.0)
    assert sim_clock_offset(pinned) == 3600
    with pytest.raises(ValueError, match="GC_SIM_CLOCK_OFFSET_S"):
        sim_clock_offset(Settings.from_env(env={"GC_SIM_CLOCK_OFFSET_S": "soon"}, sim_hour=15.0))
