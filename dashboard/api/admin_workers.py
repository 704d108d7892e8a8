"""Admin edits of grid workers and grids from the admin page (issue 28): one worker's fields, a worker table
imported with a preview of what it will change, and a grid file imported with a preview before it replaces
anything. Every answer that writes is in the audit log.

- ``PATCH /api/v1/workers/<id>``: name, phone, service_phone, device_id, grid_code, grid_codes, role, shift, active;
- ``POST /api/v1/workers/import?dry_run=1`` (multipart ``file``, CSV or .xlsx): the row-by-row plan; without
  ``dry_run`` the plan is written, all or nothing (422 with the rows' errors);
- ``POST /api/v1/grids/import?dry_run=1`` (multipart ``file``: GeoJSON, GeoPackage or a zipped Shapefile): the
  file's grids as GeoJSON with what each would do; without ``dry_run`` they are written (street-wide admins only:
  a grid file may name any community).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import BeforeValidator, Field, WithJsonSchema
from sqlalchemy import select

from ..models import Grid, Role, Worker
from ..services import audit
from ..services.importers import ImportProblem, TableTooLarge, import_grids, read_grid_file
from ..services.worker_import import apply_plan, plan_workers, read_worker_table
from .auth import require
from .deps import caller, services
from .errors import ApiError
from .openapi import registry
from .schemas import LEFT_OUT, StrictBody, StrictBool, fields_set

GRID_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")


class _DryRun(Exception):
    """Raised inside a write transaction to roll a trial import back."""


def _dry_run() -> bool:
    raw = request.args.get("dry_run", "0")
    if raw not in ("0", "1", "true", "false"):
        raise ApiError(400, "dry_run must be 1 or 0", "dry_run")
    return raw in ("1", "true")


def _upload() -> tuple[bytes, str]:
    f = request.files.get("file")
    if f is None:
        raise ApiError(400, "send the file as the multipart form field 'file'", "file")
    return f.read(), f.filename or ""


LIST_ERRORS, LIST_CHANGES = 1000, 500  # rows an answer spells out; the counts cover every row


def _listed(rows) -> list[dict]:
    """The rows a person reads: those with errors, then those that change (a 20,000-row answer was 4.9 MB)."""
    errors = [r.public() for r in rows if r.errors][:LIST_ERRORS]
    changes = [r.public() for r in rows if not r.errors and r.action != "unchanged"][:LIST_CHANGES]
    return errors + changes


def _codes(v: object) -> object:
    """Several grids as sent: a list of codes, or one string with ';' between them (as the import file has it)."""
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ";".join(c for c in v if c)
    if isinstance(v, list):
        raise ValueError("a list of grid codes (strings)")
    return v


GridCodes = Annotated[str, BeforeValidator(_codes), Field(strict=True), WithJsonSchema(
    {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
     "description": "the worker's other grids: codes as a list, or one string with ';' between them"})]


class WorkerEditIn(StrictBody):
    """A grid worker's fields to change; what they name (grids, a device) is checked as an import row is."""

    name: str = Field(default=LEFT_OUT, strict=True)
    phone: str = Field(default=LEFT_OUT, strict=True)
    device_id: str | None = Field(default=LEFT_OUT, strict=True, description="null: no device")
    grid_code: str = Field(default=LEFT_OUT, strict=True, description="the worker's own grid")
    grid_codes: GridCodes = LEFT_OUT
    role: str = Field(default=LEFT_OUT, strict=True)
    shift: Literal["day", "evening", "night"] = LEFT_OUT  # worker_import.SHIFTS
    active: StrictBool = LEFT_OUT
    service_phone: str | None = Field(default=LEFT_OUT, strict=True, description="the public number residents' "
                                      "call button dials (3–20 digits, +, - or spaces); null or empty: none, the "
                                      "center's duty number is dialled")


EDITABLE = tuple(WorkerEditIn.model_fields)


def _first_error(row) -> ApiError:
    e = row.errors[0]
    return ApiError(422, e["message"], e["field"])


def ip() -> str | None:
    """The caller's address, for the audit row."""
    return request.remote_addr


bp = Blueprint("admin_workers", __name__)


@bp.patch("/api/v1/workers/<int:worker_id>")
@require(Role.ADMIN)
def worker_edit(worker_id: int):
    """Edit one worker (a community admin: its community's, into its community's grids)."""
    p = caller()
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict) or not raw:
        raise ApiError(400, "send a JSON object with the fields to change", "body")
    unknown = sorted(set(raw) - set(WorkerEditIn.model_fields))  # a field this page does not edit: a 400, as before
    if unknown:
        raise ApiError(400, f"{unknown[0]} cannot be edited here; fields: {', '.join(EDITABLE)}", unknown[0])
    body = fields_set(WorkerEditIn, raw)
    with services().db.write() as s:
        w = s.get(Worker, worker_id)
        if w is None:
            raise ApiError(404, f"unknown worker {worker_id}", "worker_id")
        codes = dict(s.execute(select(Grid.id, Grid.code)).all())
        extra = body.get("grid_codes", [codes.get(g.grid_id) for g in w.grids if g.grid_id != w.grid_id])
        row = {"worker_code": w.code, "name": body.get("name", w.name), "phone": body.get("phone", w.phone),
               "device_id": (body["device_id"] if "device_id" in body else w.device_id) or "",
               "grid_code": body.get("grid_code", codes.get(w.grid_id or -1, "")),
               "grid_codes": extra if isinstance(extra, str) else ";".join(c for c in extra if c),
               "role": body.get("role", w.role), "shift": body.get("shift", w.shift),
               "service_phone": (body["service_phone"] if "service_phone" in body else w.service_phone) or ""}
        plan = plan_workers(s, pd.DataFrame([row]), community_id=p.community_id)
        if not plan.ok:
            raise _first_error(plan.rows[0])
        apply_plan(s, plan)
        changed = sorted(plan.rows[0].changes)
        if "active" in body and body["active"] != w.active:
            w.active = body["active"]
            changed.append("active")
        audit.record(s, p, "worker_edit", f"worker:{w.id}", {"fields": changed}, ip())
        from ..services.workers import worker_public

        out = {**worker_public(w), "device_id": w.device_id, "active": w.active, "changed": changed}
    return jsonify(out)


@bp.post("/api/v1/workers/import")
@require(Role.ADMIN)
def workers_import():
    """A worker table: ``dry_run=1`` answers the plan; otherwise it is written, all rows or none."""
    p = caller()
    dry = _dry_run()
    content, name = _upload()
    try:
        df = read_worker_table(content, name)
    except TableTooLarge as exc:
        raise ApiError(413, str(exc), "file")
    except ImportProblem as exc:
        raise ApiError(400, str(exc), "file")
    with services().db.write() as s:
        plan = plan_workers(s, df, community_id=p.community_id)
        body = {"rows": _listed(plan.rows), "counts": plan.counts, "dry_run": dry}
        if not plan.ok:
            bad = plan.counts["error"]
            return jsonify({**body, "error": {"status": 422, "field": "file", "message":
                                              f"{bad} row(s) have errors; nothing was imported"}}), \
                (200 if dry else 422)
        if not dry:
            apply_plan(s, plan)
            audit.record(s, p, "worker_import", f"file:{name[:100]}", plan.counts, ip())
    return jsonify(body), (200 if dry else 201)


@bp.post("/api/v1/grids/import")
@require(Role.ADMIN)
def grids_import():
    """A grid file: ``dry_run=1`` answers its grids (GeoJSON) and what each would do; otherwise it is written."""
    p = caller()
    if p.community_id is not None:
        raise ApiError(403, "a grid file may name any community: only a street-wide admin imports grids", "file")
    dry = _dry_run()
    content, name = _upload()
    suffix = Path(name).suffix.lower()
    if suffix not in GRID_SUFFIXES:
        raise ApiError(400, f"send a GeoJSON, GeoPackage or zipped Shapefile ({', '.join(GRID_SUFFIXES)})", "file")
    with tempfile.TemporaryDirectory(prefix="gc-grids-") as tmp:
        path = Path(tmp) / ("upload" + suffix)
        path.write_bytes(content)
        preview = {}
        try:
            gdf = read_grid_file(path)  # parsed and checked before the write turn is taken
            with services().db.write() as s:
                before = {code: (name_, comm) for code, name_, comm in
                          s.execute(select(Grid.code, Grid.name, Grid.community_id))}
                counts = import_grids(s, gdf)
                s.flush()
                from ..services.grids import grids_geojson

                after = grids_geojson(s)
                in_file = {str(c) for c in gdf["code"]}
                feats = [f for f in after["features"] if f["properties"]["code"] in in_file]
                for f in feats:
                    f["properties"]["action"] = "update" if f["properties"]["code"] in before else "create"
                preview = {"type": "FeatureCollection", "features": feats, "counts": counts,
                           "kept": sorted(set(before) - in_file)[:200], "kept_count": len(set(before) - in_file),
                           "dry_run": dry}
                if dry:
                    raise _DryRun
                audit.record(s, p, "grid_import", f"file:{name[:100]}", counts, ip())
        except _DryRun:
            pass
        except ImportProblem as exc:
            raise ApiError(422, str(exc).replace(str(path), name), "file")
    if not dry:
        services().reload_grids()  # the locator finds points in the new outlines
    return jsonify(preview), (200 if dry else 201)


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    upload = {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
    dry = [{"name": "dry_run", "in": "query", "schema": {"type": "integer", "enum": [0, 1]}}]
    api.add("/api/v1/workers/{worker_id}", "patch", summary="Edit a grid worker (admin)", tags=["admin"],
            roles=("admin",), body=WorkerEditIn,
            responses={200: "edited: the worker and the fields that changed", 404: "no such worker",
                       422: "a field, or what it names (a grid, a device), is refused; names the field"})
    api.add("/api/v1/workers/import", "post", summary="Import grid workers from CSV/Excel, with a dry run (admin)",
            tags=["admin"], roles=("admin",), params=dry, body=upload, body_type="multipart/form-data")
    api.add("/api/v1/grids/import", "post", summary="Import grids from GeoJSON/GeoPackage/Shapefile, with a dry run "
            "(street-wide admin)", tags=["admin"], roles=("admin",), params=dry, body=upload,
            body_type="multipart/form-data")
