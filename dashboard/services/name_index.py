"""The names of the people the system knows, as one matcher for masking free text (issue #8).

Sources: grid workers, 五级联动 contacts (building heads, party households, compound heads …),
users' display names, citizens who reported a case under their name and the people workers visited (走访's whom). Party members and
legal staff are stored already masked (张*), so they have nothing to add.

Texts are masked whenever a payload for a screen is built: an event once, when it is recorded
(every wall then gets the same masked payload), a snapshot or list row each time it is read.
So fetching the matcher must cost next to nothing: it is cached here and re-checked at most
every ``recheck_s`` seconds with cheap queries (count and max(id) of workers, contacts and users;
case reporters and visited people in a window below each table's high-water mark), and at once after a
session of this process flushed a change to a person (a new, deleted or renamed one, a new citizen
reporter or visited person).
Another process's rename keeps count and ids: the full reload every ``reload_s`` finds it.

The index rides on the sessions: ``attach`` puts it into ``session.info`` of a sessionmaker,
so any code holding a session, or an ORM row loaded by one, gets it from ``known_names``.
"""
from __future__ import annotations

import logging
import threading
import time
from itertools import chain
from typing import Any, Callable

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from ..masking import NO_NAMES, LayeredMatcher, NameMatcher, indexable_name
from ..models import Case, Contact, User, Worker
from ..models.residents import Visit
from ..offload import offload

log = logging.getLogger(__name__)

SESSION_KEY = "gc_name_index"
# the tables whose count and max(id) mean "read every name again"; visits join like case reporters instead (a
# window of new ids): a city's simulated visits came every few seconds, and each re-read 160,000 names (127 ms)
# on the request that next masked a text
SIGNATURE_TABLES = (Worker, Contact, User)
RESCAN_IDS = 1000  # case and visit ids below the high-water mark read again on each refresh
RECENT_MAX = 500  # names joined since the last full build: past this many, the next change compiles all anew


def _signature_query():
    """count(*) and max(id) of the people tables that are re-read whole, in one statement."""
    cols = []
    for model in SIGNATURE_TABLES:
        cols.append(select(func.count()).select_from(model).scalar_subquery())
        cols.append(select(func.max(model.id)).scalar_subquery())
    return select(*cols)


def people_names(session: Session) -> set[str]:
    """Names of workers, contacts, users (a display name that only repeats the login is a handle) and visited people."""
    rows = chain(session.scalars(select(Worker.name)), session.scalars(select(Contact.name)),
                 session.scalars(select(Visit.whom).where(Visit.whom != "").distinct()),
                 (d for d, u in session.execute(select(User.display_name, User.username)) if d and d != u))
    return {n for n in (indexable_name(x) for x in rows) if n}


def reporter_names(session: Session, after_id: int, upto_id: int) -> set[str]:
    """Distinct reporter names of cases with after_id < id <= upto_id (a range on the primary key)."""
    q = select(Case.reporter_name).where(Case.id > after_id, Case.id <= upto_id,
                                         Case.reporter_name.is_not(None)).distinct()
    return {n for n in (indexable_name(x) for x in session.scalars(q)) if n}


def visit_names(session: Session, after_id: int, upto_id: int) -> set[str]:
    """Distinct names of the people visited (走访's whom) in visits with after_id < id <= upto_id."""
    q = select(Visit.whom).where(Visit.id > after_id, Visit.id <= upto_id, Visit.whom != "").distinct()
    return {n for n in (indexable_name(x) for x in session.scalars(q)) if n}


class NameIndex:
    """The known names and their compiled matcher; rebuilt when people change.

    The matcher is a compiled base and a small layer of the names known since (``LayeredMatcher``). A request
    never waits for the database or a compile of every name, except on first use and after this process changed
    a person (a rename must be masked at once): a new reporter or visited person flushed here joins the layer on
    the spot, and the periodic re-check (another process's changes), the full reload and the recompile run in the
    background (``refresh_from``), the requests masking with the matcher they have meanwhile. On a city (160,000
    names) those cost 0.1–0.8 s, and were paid by whichever report came next."""

    def __init__(self, *, recheck_s: float = 10.0, reload_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_s, self.reload_s, self._clock = recheck_s, reload_s, clock
        self._matcher: NameMatcher | None = None
        self._base: NameMatcher | None = None  # the compiled names, ``_base_names``; the rest are layered over it
        self._base_names: frozenset[str] = frozenset()
        self._people: set[str] = set()
        self._reporters: set[str] = set()
        self._recent: set[str] = set()  # known names not in the base: the layer
        self._signature: tuple | None = None
        self._case_hwm = self._visit_hwm = 0
        self._pending: set[str] = set()  # reporter names flushed by this process, not yet merged
        self._checked_at = self._loaded_at = float("-inf")
        self._people_dirty = True  # re-read people now, even if count and max(id) look the same (a rename here)
        self._refresh_lock = threading.Lock()  # one refresh at a time
        self._state_lock = threading.Lock()    # the sets and the matcher change together (short)
        self._factory: sessionmaker | None = None  # sessions for the background refresh
        self._background: threading.Thread | None = None
        self.refreshes = self.builds = 0  # sources read, matchers compiled (tests, bench)

    def attach(self, factory: sessionmaker, *, refresh_from: bool = False) -> None:
        """Sessions made by ``factory`` carry this index and mark it stale when they change a person; with
        ``refresh_from`` the background refresh reads through a session of this factory."""
        factory.configure(info={**(factory.kw.get("info") or {}), SESSION_KEY: self})
        event.listen(factory, "after_flush", self._after_flush)
        if refresh_from:
            self._factory = factory

    def invalidate(self) -> None:
        """Re-read the sources before the next text is masked."""
        self._people_dirty = True

    def matcher(self, session: Session) -> NameMatcher:
        """The current matcher. First use and a person changed here refresh through ``session`` at once; names
        flushed here join the layer at once; the re-check every ``recheck_s`` runs in the background (or through
        ``session`` for an index with no factory: a script, a test)."""
        if self._matcher is None or self._people_dirty:
            # a person changed: wait for the refresh (a background one may have read before the change, so it is
            # checked again after it) — a new or renamed person's name is never shown unmasked meanwhile
            with self._refresh_lock:
                if self._matcher is None or self._people_dirty:  # else another thread did it while this one waited
                    self._refresh(session)
            return self._matcher or NO_NAMES
        if self._pending:
            self._merge_pending()
        if self._clock() - self._checked_at >= self.recheck_s or len(self._recent) > RECENT_MAX:
            if self._factory is None:
                if self._refresh_lock.acquire(blocking=False):
                    try:
                        self._refresh(session)
                    finally:
                        self._refresh_lock.release()
            elif self._background is None or not self._background.is_alive():
                self._background = threading.Thread(target=self._refresh_in_background, name="name-index",
                                                    daemon=True)
                self._background.start()
        return self._matcher

    def _refresh_in_background(self) -> None:
        if not self._refresh_lock.acquire(blocking=False):
            return
        try:
            assert self._factory is not None
            with self._factory() as session:
                self._refresh(session)
        except Exception:  # noqa: BLE001 — masking goes on with the matcher it has; the next re-check tries again
            log.exception("refreshing the known names failed")
            self._checked_at = self._clock()
        finally:
            self._refresh_lock.release()

    def _merge_pending(self) -> None:
        """Names flushed by this process (a reporter, a visited person) join the layer, without the database."""
        with self._state_lock:
            pending = set(self._pending)
            self._pending -= pending  # names another thread flushes meanwhile stay for the next merge
            new = pending - self._reporters
            if new:
                self._reporters |= new
                self._layer(self._recent | (new - self._base_names))

    def _layer(self, recent: set[str]) -> None:
        """With ``_state_lock`` held: the matcher is the base with ``recent`` layered over it."""
        if recent != self._recent or self._matcher is None:
            self._recent = recent
            assert self._base is not None
            self._matcher = LayeredMatcher(self._base, recent) if recent else self._base
            log.debug("name index: %d names, %d of them recent", len(self._matcher), len(recent))

    def _refresh(self, session: Session) -> None:
        """Read the sources through ``session``; compile all names anew when people changed or the layer grew
        past ``RECENT_MAX`` (off the event loop under gevent: ``offload``), else layer the new ones."""
        now = self._clock()
        self.refreshes += 1
        reread, self._people_dirty = self._people_dirty, False  # a flush meanwhile sets it again
        people = None
        with session.no_autoflush:  # never flush a caller's half-built rows from here
            signature = tuple(session.execute(_signature_query()).one())
            if reread or signature != self._signature or now - self._loaded_at >= self.reload_s:
                people = people_names(session)
            # re-read a window below the high-water mark: a case committed late (PostgreSQL hands out ids at
            # insert) or an id reused after a rollback (SQLite) is still found
            hwm = max(session.scalar(select(func.max(Case.id))) or 0, self._case_hwm)
            found = reporter_names(session, max(0, self._case_hwm - RESCAN_IDS), hwm) if hwm else set()
            vhwm = max(session.scalar(select(func.max(Visit.id))) or 0, self._visit_hwm)
            if vhwm:
                found |= visit_names(session, max(0, self._visit_hwm - RESCAN_IDS), vhwm)
        with self._state_lock:
            rebuild = people is not None and people != self._people
            if people is not None:
                self._people, self._signature, self._loaded_at = people, signature, now
            pending = set(self._pending)
            self._pending -= pending
            self._reporters |= found | pending
            self._case_hwm, self._visit_hwm = hwm, vhwm
            if not rebuild and self._base is not None:  # people as compiled: only joined names can be new
                recent = self._recent | ((found | pending) - self._base_names)
                if len(recent) <= RECENT_MAX:
                    self._layer(recent)
                    self._checked_at = now
                    return
            known = frozenset(self._people | self._reporters)
        base = offload(NameMatcher, known)  # ~0.2–0.5 s for a city's names
        with self._state_lock:
            self._base, self._base_names = base, known
            self.builds += 1
            self._matcher, self._recent = base, set()
            self._layer((self._people | self._reporters) - known)  # names that joined during the compile
            self._checked_at = now
        log.debug("name index: %d names", len(base))

    def _after_flush(self, session: Session, _ctx: Any) -> None:
        for obj in session.new:  # a new citizen's or visited person's name counts at once, whichever session masks next
            if isinstance(obj, Case) and obj.reporter_name and (name := indexable_name(obj.reporter_name)):
                self._pending.add(name)
            elif isinstance(obj, Visit) and obj.whom and (name := indexable_name(obj.whom)):
                self._pending.add(name)
        for obj in session.dirty:  # a visit's whom corrected: the new name joins (the old one stays masked)
            if isinstance(obj, Visit) and inspect(obj).attrs["whom"].history.has_changes() and obj.whom \
                    and (name := indexable_name(obj.whom)):
                self._pending.add(name)
        if self._people_dirty:
            return
        for obj in chain(session.new, session.deleted):
            if isinstance(obj, SIGNATURE_TABLES):
                self.invalidate()
                return
        for obj in session.dirty:  # position ingest dirties workers all day: only a changed name counts
            if isinstance(obj, SIGNATURE_TABLES):
                attrs = inspect(obj).attrs
                if any(attrs[k].history.has_changes() for k in ("name", "display_name", "username") if k in attrs):
                    self.invalidate()
                    return


def known_names(source: Session | object | None) -> NameMatcher:
    """The known-names matcher for a session, or for the session an ORM row was loaded by.

    A session made outside an app (a script, a test) gets its own index, built once per session.
    A row no longer attached to a session has no way to the database: only patterns and its own
    people are masked then, and that is logged, since it is a call site to fix.
    """
    session = source if isinstance(source, Session) else object_session(source) if source is not None else None
    if session is None:
        log.warning("masking %s without a session: known names are not masked", type(source).__name__)
        return NO_NAMES
    index = session.info.get(SESSION_KEY)
    if index is None:
        index = session.info[SESSION_KEY] = NameIndex()
    return index.matcher(session)
