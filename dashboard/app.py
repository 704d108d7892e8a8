"""The app factory: one Flask server with Socket.IO, the database and the domain services."""
from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask
from flask_socketio import SocketIO

from .config import Settings
from .db import Database
from .events import EventBus
from .geo.locate import GridLocator
from .live_guard import SocketGuard
from .memo import Memo
from .services.grids import grid_community_map, load_locator
from .services.name_index import NameIndex
from .services.replay import ReplayCache
from .services.positions import PositionFrames, prune_frames_in_batches
from .timeutil import set_clock_offset, sim_hour_offset_s
from .workcal import WorkCalendar

log = logging.getLogger(__name__)


def sim_clock_offset(settings: Settings) -> float:
    """Seconds the server's clock runs ahead of the real one: with --sim-hour, to that hour of today (the same for
    every process when GC_SIM_CLOCK_OFFSET_S pins it, as ``run.py prod`` does), else 0."""
    if settings.sim_hour is None:
        return 0.0
    if settings.sim_clock_offset_s is not None:
        return settings.sim_clock_offset_s
    return sim_hour_offset_s(settings.sim_hour)


@dataclass
class Services:
    """Everything a request, callback or background job needs; built once by create_app."""

    settings: Settings
    db: Database
    bus: EventBus
    socketio: SocketIO
    calendar: WorkCalendar
    frames: PositionFrames
    stop: threading.Event = field(default_factory=threading.Event)
    simulator: object | None = None
    _locator: GridLocator | None = None
    _locator_lock: threading.Lock = field(default_factory=threading.Lock)
    _started: bool = False
    leadership: object | None = None  # dashboard.leader.Leadership once start_background ran
    clock: object | None = None  # a callable → aware datetime that replaces utcnow in the API (tests, replays)
    names: NameIndex | None = None  # known people's names for masking free text; sessions carry it too
    memo: Memo = field(default_factory=Memo)  # costly, slow-changing page parts (dashboard/memo.py)
    replays: ReplayCache = field(default_factory=ReplayCache)  # day replays by day and scope (services/replay.py)
    socket_guard: object | None = None  # dashboard.live_guard.SocketGuard: this process's sockets and their caps
    notify_wake: threading.Event = field(default_factory=threading.Event)  # a notice was published: send now

    @property
    def locator(self) -> GridLocator | None:
        """The point → grid locator over the current grids (built on first use)."""
        if self._locator is None:
            self.reload_grids()
        return self._locator

    def reload_grids(self) -> None:
        """Rebuild the locator and grid → community map after grids change."""
        with self._locator_lock, self.db.read() as s:
            self._locator = load_locator(s)
            self.frames.grid_community = grid_community_map(s)
        self.memo.clear()  # the wall's static map and figures were drawn from the old grids

    def start_background(self, *, simulate: bool | None = None) -> None:
        """Start the producers: position frames here; housekeeping and simulator in the leader only."""
        if self._started:
            return
        self._started = True
        self._subscribe_to_queue()
        self.socketio.start_background_task(self._frame_loop)  # every process flushes its own ingest
        self.socketio.start_background_task(self.socket_guard.recheck_loop, self.stop)  # and checks its sockets
        from .leader import Leadership

        self.leadership = Leadership(self.settings.db_url, self.stop, spawn=self.socketio.start_background_task)
        self.leadership.run(lambda term: self._start_singletons(term, simulate))

    def _subscribe_to_queue(self, timeout: float = 10.0) -> None:
        """With a message queue, subscribe before serving. python-socketio starts its queue listener at the first
        socket that connects, so an event another process published in the moment before that subscription was in
        place never reached this process's screens (a wall would fetch it only at the next event's seq gap)."""
        if self.settings.redis_url is None:
            return
        server = self.socketio.server
        if not server.manager_initialized:
            server.manager_initialized = True
            server.manager.initialize()  # starts the listener thread, which subscribes
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pubsub = getattr(server.manager, "pubsub", None)
            if pubsub is not None and pubsub.subscribed:  # set once SUBSCRIBE has gone to Redis
                return
            time.sleep(0.01)
        log.warning("not subscribed to the message queue after %.0f s; its listener keeps trying", timeout)

    def _start_singletons(self, term: threading.Event, simulate: bool | None) -> None:
        """The producers that run in exactly one process, until ``term`` ends."""
        self.socketio.start_background_task(self._housekeeping_loop, term)
        from .services.rules import run_loop as run_alert_rules

        self.socketio.start_background_task(run_alert_rules, self, term)
        from .services.daily_brief import brief_loop  # the daily brief at GC_BRIEF_AT (issue 7)

        self.socketio.start_background_task(brief_loop, self, term)
        from .services.notifier import OutboxSender  # notices beyond the page (GC_NOTIFY_BACKEND, issue 31)

        sender = OutboxSender.from_settings(self)
        if sender is not None:
            self.socketio.start_background_task(sender.loop, term, self.notify_wake, self.settings.notify_poll_s)
        if self.settings.simulate if simulate is None else simulate:
            from .simulator import Simulator

            with self.db.read() as s:
                self.simulator = Simulator.from_db(s, seed=self.settings.sim_seed, speed=self.settings.sim_speed,
                                                   cases_per_day=self.settings.sim_cases_per_day,
                                                   hour=self.settings.sim_hour,
                                                   trouble=self.settings.sim_worker_trouble)
            self.socketio.start_background_task(self.simulator.run, term, db=self.db, locator=self.locator,
                                                frames=self.frames, calendar=self.calendar,
                                                uploads=self.settings.uploads_dir)
            from .simulator_governance import GovernanceSimulator  # activities and doors (issue 10)

            self.socketio.start_background_task(GovernanceSimulator.start, self, term)

    def _frame_loop(self) -> None:
        while not self.stop.wait(self.settings.position_frame_s):
            if not self.frames.pending():
                continue
            try:
                self.frames.flush_in_turns(self.db)
            except Exception:
                log.exception("position frame flush failed")

    def _housekeeping_loop(self, term: threading.Event | None = None) -> None:
        wait = 60  # a minute after start (uploads left by a crash go soon), then hourly
        while not (term or self.stop).wait(wait):
            wait = 3600
            self.housekeeping()

    def housekeeping(self) -> None:
        """Prune old position frames and finished notify outbox messages (GC_NOTIFY_KEEP_DAYS), delete uploads no
        case took (each failure logged, never raised)."""
        try:
            n = prune_frames_in_batches(self.db, older_than=timedelta(days=2))  # a short write per batch
            log.info("pruned %d old position frames", n)
        except Exception:
            log.exception("housekeeping failed")
        try:
            from .services.notifier import prune_outbox_in_batches

            n = prune_outbox_in_batches(self.db, older_than=timedelta(days=self.settings.notify_keep_days),
                                        now=self.clock() if callable(self.clock) else None)
            log.info("pruned %d finished notify outbox messages", n)
        except Exception:
            log.exception("pruning the notify outbox failed")
        try:
            from .services import photos

            with self.db.read() as s:
                photos.delete_orphans(s, self.settings.uploads_dir)
        except Exception:
            log.exception("deleting unattached uploads failed")

    def shutdown(self) -> None:
        self.stop.set()
        self.notify_wake.set()
        self.db.dispose()


def create_app(settings: Settings) -> tuple[Flask, Services]:
    """Build the Flask server, Socket.IO and services; no background work starts here."""
    app = Flask("gridcommand")
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    socketio = SocketIO()
    # GC_REDIS_CHANNEL: deployments sharing one Redis keep apart (pub/sub ignores the db number)
    socketio.init_app(app, async_mode="threading", message_queue=settings.redis_url,
                      channel=settings.redis_channel,
                      # None: python-engineio refuses a handshake whose Origin is not this request's own origin
                      # ([] would turn the check off and let any page open the channel with a visitor's cookie)
                      cors_allowed_origins=None, ping_interval=10, ping_timeout=20)
    db = Database(settings.db_url)
    bus = EventBus()
    bus.attach(db.writer)
    names = NameIndex()
    names.attach(db.writer)
    names.attach(db.reader, refresh_from=True)
    services = Services(settings=settings, db=db, bus=bus, socketio=socketio,
                        calendar=WorkCalendar.official(), frames=PositionFrames(), names=names)
    services.socket_guard = SocketGuard(services)
    set_clock_offset(sim_clock_offset(settings))  # --sim-hour: the server's clock at the simulated hour (else 0)
    app.extensions["gridcommand"] = services

    from .api import register_all
    from .api.auth import init_auth
    from .realtime import register_socketio

    init_auth(app, services)
    register_all(app, services)
    register_socketio(socketio, services, app)
    from .api.security import install_edge

    install_edge(app, services)  # last: the Host check and ProxyFix wrap everything, Socket.IO included
    return app, services
