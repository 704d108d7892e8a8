"""The wall's count axes end on 5, 10, 20, 50, 100, …: they step, they do not follow every case.

The page draws the charts with its own copy of the rule (assets/32-wall-panels.js); tests/browser/test_wall.py
compares the two and reads the drawn axis."""
from __future__ import annotations

from layouts.wall.panels import axis_top


def test_axis_top_steps_through_one_two_five():
    assert [axis_top(v) for v in (0, 1, 5, 6, 10, 11, 20, 21, 50, 51, 100, 101, 199, 201, 999)] == [
        5, 5, 5, 10, 10, 20, 20, 50, 50, 100, 100, 200, 200, 500, 1000]
    assert all(axis_top(v) >= v for v in range(0, 5000, 7))
