"""The WSGI entry for gunicorn: ``gunicorn -k gevent -w N 'wsgi:app'`` (run from this folder; ``python run.py prod``
passes ``--chdir`` to it).

Each worker builds its own app from ``Settings.from_env()`` after the fork — exactly as ``run.py serve`` does
(``server.build_server``: core server + Dash pages + callbacks) — and starts its background work: every worker
flushes its own position frames; the simulator and scheduled jobs run only in the elected leader
(``dashboard.leader``). ``python run.py prod`` checks the settings, migrates once and execs gunicorn with this.

Like run.py this is an entry point beside the packages, not part of the core: nothing in dashboard/ imports it.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from dashboard.config import Settings
from server import build_server, production_problems

log = logging.getLogger(__name__)


def follow_master(master_pid: int, every_s: float = 0.25) -> threading.Thread:
    """Exit this worker at once when its gunicorn master dies (``kill -9``). gunicorn's own check lets a worker
    finish its open requests first — live sockets and camera streams never finish — so the orphans kept the
    port for ~20 s and a restarted master could not bind it. Every acknowledged write is already committed."""

    def watch() -> None:
        while os.getppid() == master_pid:
            time.sleep(every_s)
        log.warning("master %d is gone: worker %d exits", master_pid, os.getpid())
        logging.shutdown()
        os._exit(0)

    t = threading.Thread(target=watch, name="follow-master", daemon=True)
    t.start()
    return t


def create_wsgi_app(settings: Settings | None = None):
    """Build the whole server for one worker process and start its background work."""
    follow_master(os.getppid())  # first: a master that dies while this worker still boots is followed too
    settings = settings or Settings.from_env()
    if not logging.getLogger().handlers:  # gunicorn configures only its own loggers
        logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    problems = production_problems(settings)
    if problems:
        raise SystemExit("refusing to start in production: " + "; ".join(problems))
    app, services = build_server(settings)
    services.start_background()
    if settings.osmand_port:  # run.py prod --osmand-port: gunicorn listens there too; any path is OsmAnd there
        from dashboard.api.osmand import by_port

        log.info("OsmAnd/Traccar positions on port %d too", settings.osmand_port)
        return by_port(app, services, app.extensions["gc_osmand_group_commit"], settings.osmand_port)
    log.info("worker ready (db %s, redis %s, simulator %s)", services.db.engine.dialect.name,
             "on" if settings.redis_url else "off", "allowed" if settings.simulate else "off")
    return app


def __getattr__(name: str):
    # gunicorn resolves ``wsgi:app`` with getattr: build on first access, in the worker
    if name in ("app", "application"):
        return create_wsgi_app()
    raise AttributeError(name)
