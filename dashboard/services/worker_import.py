"""Grid workers from a CSV/Excel table, planned before anything is written (the admin page's preview).

``plan_workers`` reads every row against the database and says, row by row, what an import would do: create,
update (with each field's old and new value), leave unchanged, or refuse (the row's errors, naming the column).
``apply_plan`` writes a plan without errors. A community-bound admin's rows must name grids of its community, and
a worker code of another community's worker is refused as unknown to it (it learns nothing of that worker).
The columns are those of ``python run.py import-workers`` (services/importers.py): worker_code, name, phone,
device_id, grid_code, and optionally grid_codes (";"-separated), role, shift, service_phone (the public number
residents' call button dials; a file without the column leaves it as it is, an empty cell clears it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Grid, Worker, WorkerGrid
from .importers import WORKER_COLUMNS, read_table

SHIFTS = ("day", "evening", "night")
FIELDS = ("name", "phone", "device_id", "grid_code", "grid_codes", "role", "shift", "service_phone")
SERVICE_PHONE_RE = re.compile(r"^[0-9+\- ]{3,20}$")  # digits, +, - and spaces: an office line with its extension


@dataclass
class PlannedRow:
    line: int                      # the row's line in the file (the header is line 1)
    code: str
    action: str = "unchanged"      # create | update | unchanged | error
    changes: dict[str, list[Any]] = field(default_factory=dict)  # field → [old, new]
    errors: list[dict[str, str]] = field(default_factory=list)   # {"field": column, "code": kind, "message": why}
    values: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "action": self.action, "changes": self.changes,
                "errors": self.errors}


@dataclass
class WorkerPlan:
    rows: list[PlannedRow]

    @property
    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            out[r.action] += 1
        return out

    @property
    def ok(self) -> bool:
        return not any(r.errors for r in self.rows)


def read_worker_table(content: bytes, name: str) -> pd.DataFrame:
    """The uploaded table as strings (ImportProblem for an unreadable file or a missing column)."""
    df = read_table(content, name, WORKER_COLUMNS)
    df.columns = [str(c).strip() for c in df.columns]
    return df.fillna("")


def plan_workers(session: Session, df: pd.DataFrame, *, community_id: int | None = None) -> WorkerPlan:
    """What importing ``df`` would do, row by row; nothing is written."""
    grids = {code: (gid, comm) for code, gid, comm in session.execute(select(Grid.code, Grid.id, Grid.community_id))}
    workers = {w.code: w for w in session.scalars(select(Worker))}
    grid_codes = {gid: code for code, (gid, _) in grids.items()}
    devices = {w.device_id: w.code for w in workers.values() if w.device_id}
    seen_codes: dict[str, int] = {}
    seen_devices: dict[str, int] = {}
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        val = {k: str(rec.get(k, "") or "").strip() for k in ("worker_code", *FIELDS)}
        row = PlannedRow(line=i + 2, code=val["worker_code"])
        err = lambda f, m, code: row.errors.append({"field": f, "code": code, "message": m})  # noqa: E731
        if not row.code:
            err("worker_code", "worker_code is empty", "empty")
        elif row.code in seen_codes:
            err("worker_code", f"worker_code {row.code} also on line {seen_codes[row.code]}", "repeated")
        seen_codes.setdefault(row.code, row.line)
        if not val["name"]:
            err("name", "name is empty", "empty")
        home = grids.get(val["grid_code"])
        if home is None:
            err("grid_code", f"grid_code {val['grid_code']!r} is not a known grid", "unknown_grid")
        elif community_id is not None and home[1] != community_id:
            err("grid_code", f"grid {val['grid_code']} is outside your jurisdiction", "outside")
        extra = [c for c in val["grid_codes"].split(";") if c.strip()] if val["grid_codes"] else []
        for c in extra:
            g = grids.get(c.strip())
            if g is None or (community_id is not None and g[1] != community_id):
                err("grid_codes", f"grid_codes has a grid not known in your jurisdiction: {c.strip()!r}",
                    "unknown_grid")
        keep_service = "service_phone" not in rec  # a file without the column leaves the number alone
        if val["service_phone"] and not SERVICE_PHONE_RE.match(val["service_phone"]):
            err("service_phone", "service_phone must be 3–20 digits, +, - or spaces", "service_phone")
        if val["shift"] and val["shift"] not in SHIFTS:
            err("shift", "shift must be day, evening or night", "shift")
        if val["device_id"]:
            owner = devices.get(val["device_id"])
            if owner is not None and owner != row.code:
                err("device_id", f"device_id {val['device_id']} belongs to another worker", "taken")
            if val["device_id"] in seen_devices:
                err("device_id", f"device_id also on line {seen_devices[val['device_id']]}", "repeated")
            seen_devices.setdefault(val["device_id"], row.line)
        w = workers.get(row.code)
        if w is not None and community_id is not None:
            comm = next((c for _, (gid, c) in grids.items() if gid == w.grid_id), None)
            if comm != community_id:
                err("worker_code", f"worker_code {row.code} is not a worker of your jurisdiction", "outside")
        if row.errors:
            row.action = "error"
            rows.append(row)
            continue
        assert home is not None
        gids = list(dict.fromkeys([home[0]] + [grids[c.strip()][0] for c in extra]))
        new = {"name": val["name"], "phone": val["phone"], "device_id": val["device_id"] or None,
               "grid_code": val["grid_code"], "grid_codes": ";".join(grid_codes[g] for g in gids[1:]),
               "role": val["role"] or (w.role if w is not None else "专职网格员"),
               "shift": val["shift"] or (w.shift if w is not None else "day"),
               "service_phone": (w.service_phone if w is not None else None) if keep_service
               else val["service_phone"] or None}
        row.values = {**new, "grid_ids": gids}
        if w is None:
            row.action = "create"
            row.changes = {k: [None, v] for k, v in new.items() if v not in (None, "")}
        else:
            old_extra = [g.grid_id for g in w.grids if g.grid_id != w.grid_id]
            old = {"name": w.name, "phone": w.phone, "device_id": w.device_id,
                   "grid_code": grid_codes.get(w.grid_id or -1, ""),
                   "grid_codes": ";".join(grid_codes.get(g, "") for g in old_extra), "role": w.role, "shift": w.shift,
                   "service_phone": w.service_phone}
            row.changes = {k: [old[k], new[k]] for k in new if (old[k] or "") != (new[k] or "")}
            row.action = "update" if row.changes else "unchanged"
        rows.append(row)
    return WorkerPlan(rows)


def apply_plan(session: Session, plan: WorkerPlan) -> dict[str, int]:
    """Write a plan without errors (ValueError if it has any); returns its counts."""
    if not plan.ok:
        raise ValueError("the plan has rows with errors")
    workers = {w.code: w for w in session.scalars(select(Worker).where(
        Worker.code.in_([r.code for r in plan.rows])))}
    for r in plan.rows:
        if r.action not in ("create", "update"):
            continue
        w = workers.get(r.code)
        if w is None:
            w = Worker(code=r.code)
            session.add(w)
        v = r.values
        w.name, w.phone, w.device_id, w.grid_id = v["name"], v["phone"], v["device_id"], v["grid_ids"][0]
        w.role, w.shift, w.service_phone = v["role"], v["shift"], v["service_phone"]
        kept = {g.grid_id: g for g in w.grids}  # the same (worker, grid) rows stay, so no key is inserted twice
        w.grids = [kept.get(g) or WorkerGrid(grid_id=g) for g in v["grid_ids"]]
        for g in w.grids:
            g.primary = g.grid_id == v["grid_ids"][0]
    session.flush()
    return plan.counts
