"""Triage on the console (issue 27 item 2): the best-guess category of a report or an alert, changing a case's
category (its deadline follows the new category's clock), and placing a case found outside the street in a grid.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, CaseState, Category, Grid
from ..timeutil import utcnow
from ..workcal import WorkCalendar
from .cases import CaseError, IllegalTransition, _emit, _log, sla_due

# an alert kind → the category names it most likely is (first active one wins)
KIND_GUESS: dict[str, tuple[str, ...]] = {
    "sos": ("人员受伤",), "fall": ("人员受伤",), "fallDown": ("人员受伤",),
    "smoke_alarm": ("火情",), "fire": ("火情",), "gas": ("燃气隐患",),
    "door_forced": ("可疑人员",), "door_held_open": ("可疑人员",),
    "flood": ("积水内涝",),
}
CLOSED = (CaseState.CLOSED, CaseState.VOID)


def guess_category(session: Session, text: str = "", kind: str | None = None) -> str | None:
    """The category code a report's text or an alert's kind most likely belongs to, or None when nothing matches.

    The kind decides when it maps to a category; otherwise each active category scores the number of its keywords
    (and its own name) found in the text; ties go to the more urgent, then the lower code."""
    cats = session.execute(select(Category.code, Category.name, Category.keywords, Category.default_priority)
                           .where(Category.active.is_(True)).order_by(Category.code)).all()
    if kind and kind in KIND_GUESS:
        for name in KIND_GUESS[kind]:
            hit = next((c.code for c in cats if c.name == name), None)
            if hit:
                return hit
    text = text or ""
    if not text.strip():
        return None
    best: tuple[int, int, str] | None = None
    for c in cats:
        words = {w.strip() for w in (c.keywords or "").split(";") if w.strip()} | {c.name}
        score = sum(1 for w in words if w in text)
        if score and (best is None or (-score, c.default_priority, c.code) < best):
            best = (-score, c.default_priority, c.code)
    return best[2] if best else None


def triage_case(session: Session, c: Case, *, actor: str, category_code: str | None = None,
                grid_id: int | None = None, note: str = "", calendar: WorkCalendar | None = None,
                now: datetime | None = None) -> Case:
    """Change the category (priority and deadline follow it) and/or place the case in a grid by hand."""
    now = now or utcnow()
    if c.state in CLOSED or c.merged_into_id:
        raise IllegalTransition(f"case {c.code} is {c.state}; only an open case is triaged")
    if category_code is None and grid_id is None:
        raise CaseError("category_code", "give a category_code or a grid_id")
    if category_code is not None and category_code != c.category_code:
        cat = session.get(Category, category_code)
        if cat is None or not cat.active:
            raise CaseError("category_code", f"unknown category {category_code!r}")
        old = c.category
        c.category_code, c.category = cat.code, cat
        c.priority = cat.default_priority
        c.sla_due_at = sla_due(c, calendar) if (cat.clock == "natural" or c.dispatched_at) else None
        if c.attributes and c.attributes.get("category_unconfirmed"):  # the operator has now picked
            c.attributes = {k: v for k, v in c.attributes.items() if k != "category_unconfirmed"}
        _log(c, "recategorize", actor, note or f"{old.name if old else ''} → {cat.name}", c.state, c.state, now,
             {"from": old.code if old else None, "to": cat.code})
    if grid_id is not None and grid_id != c.grid_id:
        g = session.get(Grid, grid_id)
        if g is None:
            raise CaseError("grid_id", f"unknown grid {grid_id}")
        c.grid_id, c.community_id = g.id, g.community_id
        _log(c, "assign_grid", actor, note or g.name, c.state, c.state, now, {"grid_id": g.id})
    c.updated_at = now
    session.flush()
    _emit(session, c, "triage")
    return c


def outside_distance(c: Case, locator) -> tuple[int | None, float | None]:
    """(nearest grid id, metres to it) of a case located outside every grid; (None, None) otherwise."""
    if not c.outside or c.lat is None or locator is None:
        return None, None
    gid, dist = locator.nearest(c.lat, c.lon)
    return (int(gid) if gid is not None else None), (round(dist) if dist != float("inf") else None)
