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
    """The known names and their compiled matcher; rebuilt when people change."""

    def __init__(self, *, recheck_s: float = 10.0, reload_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_s, self.reload_s, self._clock = recheck_s, reload_s, clock
        self._matcher: NameMatcher | None = None
        self._people: set[str] = set()
        self._reporters: set[str] = set()
        self._recent: set[str] = set()  # names joined since the matcher's base was compiled
        self._signature: tuple | None = None
        self._case_hwm = self._visit_hwm = 0
        self._pending: set[str] = set()  # reporter names flushed by this process, not yet merged
        self._checked_at = self._loaded_at = float("-inf")
        self._stale = self._people_dirty = True  # stale: re-check; people dirty: re-read people even if
        self._lock = threading.Lock()            # count and max(id) look the same (a rename)
        self.refreshes = self.builds = 0  # sources read, matchers compiled (tests, bench)

    def attach(self, factory: sessionmaker) -> None:
        """Sessions made by ``factory`` carry this index and mark it stale when they change a person."""
        factory.configure(info={**(factory.kw.get("info") or {}), SESSION_KEY: self})
        event.listen(factory, "after_flush", self._after_flush)

    def invalidate(self) -> None:
        """Re-read the sources before the next text is masked."""
        self._people_dirty = self._stale = True

    def matcher(self, session: Session) -> NameMatcher:
        """The current matcher; refreshed through ``session`` when due (first use, a change, ``recheck_s``)."""
        m = self._matcher
        if m is not None and not self._stale and self._clock() - self._checked_at < self.recheck_s:
            return m
        # one thread refreshes; the others keep masking with the matcher they have (seconds old at most)
        if not self._lock.acquire(blocking=m is None):
            return m  # type: ignore[return-value]
        try:
            if self._matcher is None or m is not None:  # else another thread built it while this one waited
                self._refresh(session)
        finally:
            self._lock.release()
        return self._matcher or NO_NAMES

    def _refresh(self, session: Session) -> None:
        now = self._clock()
        self.refreshes += 1
        reread, self._people_dirty, self._stale = self._people_dirty, False, False  # a flush meanwhile sets them
        with session.no_autoflush:  # never flush a caller's half-built rows from here
            signature = tuple(session.execute(_signature_query()).one())
            changed = rebuild = False
            if reread or signature != self._signature or now - self._loaded_at >= self.reload_s:
                people = people_names(session)
                changed, self._people, self._signature, self._loaded_at = people != self._people, people, signature, now
                rebuild = changed
            # re-read a window below the high-water mark: a case committed late (PostgreSQL hands out ids at
            # insert) or an id reused after a rollback (SQLite) is still found
            hwm = max(session.scalar(select(func.max(Case.id))) or 0, self._case_hwm)
            found = reporter_names(session, max(0, self._case_hwm - RESCAN_IDS), hwm) if hwm else set()
            vhwm = max(session.scalar(select(func.max(Visit.id))) or 0, self._visit_hwm)
            if vhwm:
                found |= visit_names(session, max(0, self._visit_hwm - RESCAN_IDS), vhwm)
        pending = set(self._pending)
        self._pending -= pending  # names another thread flushed meanwhile stay for the next refresh
        new = (found | pending) - self._reporters
        if new:
            self._reporters |= new
            changed = True
        self._case_hwm, self._visit_hwm = hwm, vhwm
        if rebuild or self._matcher is None or len(self._recent | new) > RECENT_MAX:
            self._matcher = NameMatcher(self._people | self._reporters)
            self._recent = set()
            self.builds += 1
            log.debug("name index: %d names", len(self._matcher))
        elif changed:  # only new reporters or visited people: a small layer over the compiled names
            self._recent |= new
            self._matcher = LayeredMatcher(self._matcher, self._recent)
            log.debug("name index: %d names, %d of them recent", len(self._matcher), len(self._recent))
        self._checked_at = now

    def _after_flush(self, session: Session, _ctx: Any) -> None:
        for obj in session.new:  # a new citizen's or visited person's name counts at once, whichever session refreshes next
            if isinstance(obj, Case) and obj.reporter_name and (name := indexable_name(obj.reporter_name)):
                self._pending.add(name)
                self._stale = True
            elif isinstance(obj, Visit) and obj.whom and (name := indexable_name(obj.whom)):
                self._pending.add(name)
                self._stale = True
        for obj in session.dirty:  # a visit's whom corrected: the new name joins (the old one stays masked)
            if isinstance(obj, Visit) and inspect(obj).attrs["whom"].history.has_changes() and obj.whom \
                    and (name := indexable_name(obj.whom)):
                self._pending.add(name)
                self._stale = True
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
