"""The whole server, assembled: core app + schema + Dash pages + callbacks, not yet serving.

``run.py`` (the CLI, ``python run.py serve``) and ``wsgi.py`` (gunicorn's entry, one build per worker) both build
the server here, so neither imports the other. Like them this module sits beside the packages: it may assemble
the UI (layouts/, callbacks/) on top of the core (dashboard/), which never imports it.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from dashboard.config import Settings

log = logging.getLogger("gridcommand")


def fail(message: str) -> "None":
    """Stop the start with one line on stderr (exit status 2)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def production_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve production (empty when they may)."""
    if not settings.production:
        return []
    problems = []
    if settings.debug:
        problems.append("GC_DEBUG is on: production never runs with debug (set GC_DEBUG=0)")
    if not settings.secret_key:
        problems.append("GC_SECRET_KEY is not set: every worker and every box needs the same secret key "
                        "(e.g. GC_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))'))")
    if not settings.allowed_hosts.strip():
        problems.append("GC_ALLOWED_HOSTS is not set: name the host names browsers use for this server "
                        "(e.g. GC_ALLOWED_HOSTS=gridcommand.example.internal; see docs/SECURITY.md)")
    return problems


def open_services(settings: Settings):
    """Create the app and bring the schema up to date; DB problems become one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.app import create_app
    from dashboard.db import migrate

    try:
        app, services = create_app(settings)
        migrate(services.db.engine)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot open the database {settings.db_url}: {str(exc).splitlines()[0]}")
    return app, services


def seed_if_empty(services, demo_dir: Path | None = None) -> bool:
    """Load the demo street into an empty database; False when it already holds grids."""
    from dashboard.db import is_empty
    from dashboard.services.importers import load_demo

    if not is_empty(services.db.engine):
        return False
    from datetime import timedelta

    from dashboard.timeutil import local_today

    with services.db.write() as s:  # its 五治 history ends yesterday, whatever day this is
        counts = load_demo(s, demo_dir or services.settings.demo_dir, end_on=local_today() - timedelta(days=1))
    log.info("loaded the demo street: %s", counts)
    services.reload_grids()
    return True


def first_admin(services) -> None:
    """First run: create the admin with a one-time password, shown once (no default password; issue 8)."""
    from dashboard.services import audit
    from dashboard.services.users import ensure_admin

    with services.db.write() as s:
        created = ensure_admin(s)
        pruned = audit.prune(s, audit.retention_days(services.settings))  # never younger than 180 days
    if pruned:
        log.info("audit log: pruned %d entries older than %d days", pruned, audit.retention_days(services.settings))
    if created:
        name, password = created.split(" ", 1)
        log.warning("first run: created admin %r with one-time password %s (must be changed at first sign-in)",
                    name, password)


def build_server(settings: Settings):
    """The whole server without starting it: core app, schema, Dash pages, callbacks (run.py serve and wsgi.py)."""
    from callbacks import register_all
    from dashboard.leader import exclusive
    from layouts.app import create_dash

    with exclusive(settings.db_url):  # several workers start at once: one migrates and seeds
        app, services = open_services(settings)
        seeded = not settings.production and seed_if_empty(services)
        first_admin(services)
    dash_app = create_dash(app, services)
    register_all(dash_app, services)
    services.socketio.start_background_task(_warm_pages, services)
    if seeded and settings.demo_history_days:  # the demo's last week fills in behind a server already up
        services.socketio.start_background_task(_seed_recent, services)
    return app, services


def _seed_recent(services) -> None:
    from dashboard.demodata.recent import seed_recent

    from datetime import timedelta

    from dashboard.timeutil import local_today

    today = local_today()
    try:
        # a day per transaction, each behind the people's writes waiting (bulk: a background turn), with a pause
        # between days so serving gets the CPU back
        for back in range(services.settings.demo_history_days, 0, -1):
            with services.db.write(bulk=True) as s:
                seed_recent(s, today=today, only=today - timedelta(days=back), calendar=services.calendar)
            services.socketio.sleep(0.5)
    except Exception:  # noqa: BLE001 — the live street runs without its history
        log.exception("writing the demo street's recent history failed")


def _warm_pages(services) -> None:
    """Fill the page memo in the background (never holds up serving; a failure only costs the first wall),
    then keep what start-up built out of the cycle collector's passes (dashboard/heap.py)."""
    from dashboard.heap import settle
    from layouts.wall.layout import warm

    try:
        warm(services)
    except Exception:  # noqa: BLE001 — a cold memo is slower, not wrong
        log.exception("warming the wall's shared parts failed")
    settle()
