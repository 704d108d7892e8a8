"""The overdue rule reads a category's clock (issue 27 item 3): an urgent case counts natural hours from the
report even before anyone dispatched it."""
from __future__ import annotations

from datetime import datetime

from dashboard.models import Case
from dashboard.services.cases import CaseReport, report_case
from dashboard.services.rules import RuleConfig, overdue_and_warning
from tests.unit.test_console_deadlines import CAL, sh, world  # noqa: F401  (the fixture)


def test_urgent_case_not_dispatched_warns_and_goes_overdue_at_night(world):
    """The overdue rule reads the clock too: an urgent case reported at 23:50 and not yet dispatched warns at
    80 % of its hour and is overdue at 00:50 (no working hours to wait for)."""
    services, ids = world
    lat, lon = ids["center"]
    t0 = sh(2026, 12, 5, 23, 50)  # a Saturday night
    with services.db.write() as s:
        c, _ = report_case(s, CaseReport(category_code="0701", lat=lat, lon=lon), locator=services.locator, now=t0)
        cid = c.id
    def kinds(t: datetime) -> list[str]:
        with services.db.read() as s:
            d = overdue_and_warning(s, t, CAL, RuleConfig())
        return sorted(a["kind"] for a in d.raise_ if a.get("case_id") == cid)

    assert kinds(sh(2026, 12, 6, 0, 30)) == []
    assert kinds(sh(2026, 12, 6, 0, 39)) == ["sla_warning"]   # 48 min = 80 % of the hour
    assert kinds(sh(2026, 12, 6, 0, 50)) == ["overdue"]
    with services.db.read() as s:
        assert s.get(Case, cid).dispatched_at is None
