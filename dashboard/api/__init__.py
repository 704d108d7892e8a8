"""HTTP interfaces. Each module has ``register(app, services)``; add new ones to MODULES."""
from __future__ import annotations

from importlib import import_module

MODULES = [
    "dashboard.api.security",  # headers, CSP, CSRF, rate limits, display token (issue 8)
    "dashboard.api.errors",  # the input edge: integers in paths and JSON bodies a database can hold (issue 25 #13)
    "dashboard.api.outage",
    "dashboard.api.health",
    "dashboard.api.live",
    "dashboard.api.wall",
    "dashboard.api.briefing",
    "dashboard.api.cases_ops",
    "dashboard.api.departments",  # the departments cases are routed to (issue 27)
    "dashboard.api.notices",  # grid notices, the residents' page's read of them, the notify outbox (issue 31)
    "dashboard.api.alerts",
    "dashboard.api.openapi",
    "dashboard.api.field",
    "dashboard.api.field_people",
    "dashboard.api.residents",  # residents' reports from /r, their tracking and satisfaction (issue 31)
    "dashboard.api.session",
    "dashboard.api.osmand",
    "dashboard.api.open311",
    "dashboard.api.grids_detail",
    "dashboard.api.cameras",
    "dashboard.api.tours",
    "dashboard.api.visits",  # visits (走访) and residents' satisfaction figures (issue 31 items 3-4)
    "dashboard.api.calls",
    "dashboard.api.governance",
    "dashboard.api.devices",
    "dashboard.api.admin_users",  # users, keys, audit, unmask (issue 8)
    "dashboard.api.admin_workers",  # worker edits, worker and grid imports with a preview (issue 28)
    "dashboard.api.admin_devices",  # camera and access-device edits, device secret rotation (issue 28)
    "dashboard.api.audit_edge",  # audit rows in the action's transaction; after security, whose Server-Timing counts them
]


def register_all(app, services) -> None:
    for name in MODULES:
        import_module(name).register(app, services)
