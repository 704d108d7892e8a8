"""The wall's count axes end on 5, 10, 20, 50, 100, …: they step, they do not follow every case.

The page's own copy of the rule (assets/32-wall-panels.js) is compared in tests/browser/test_wall.py."""
from __future__ import annotations

from layouts.wall.panels import axis_top, category_figure, hourly_figure


def test_axis_top_steps_through_one_two_five():
    assert [axis_top(v) for v in (0, 1, 5, 6, 10, 11, 20, 21, 50, 51, 100, 101, 199, 201, 999)] == [
        5, 5, 5, 10, 10, 20, 20, 50, 50, 100, 100, 200, 200, 500, 1000]
    assert all(axis_top(v) >= v for v in range(0, 5000, 7))


def test_figures_use_the_stepped_range():
    stats = {"by_category": [{"name": "市容环境", "count": 12}, {"name": "矛盾纠纷", "count": 3}],
             "hourly": {"today": [0] * 23 + [7], "yesterday": [0] * 10 + [23] + [0] * 13}}
    assert list(category_figure(stats, "zh-CN", 400, 200).layout.xaxis.range) == [0, 20]
    assert list(hourly_figure(stats, "zh-CN", 400, 200).layout.yaxis.range) == [0, 50]
