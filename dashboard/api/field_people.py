"""/api/v1 field API, part 2: positions, patrols, my grid and tasks, categories, workers, grids."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, or_, select

from ..masking import normalise_name
from ..models import Case, CaseState, Category, Dispatch, Grid, Role, Worker, WorkerGrid
from ..services import photos as photo_svc
from ..services.cases import CaseError, IllegalTransition, transition
from ..services.grids import grids_geojson
from ..services.positions import Fix, ingest_fixes
from ..services.workers import end_patrol, set_device_token, start_patrol, worker_public
from ..timeutil import iso
from .deps import services
from .auth import require
from ..principal import Principal, in_scope, record_in_scope, resolve_principal, scope_community
from .errors import ApiError, id_arg, int_arg, page_arg, too_many
from .field import acting_worker, case_out, cases_out
from .openapi import query, registry
from .schemas import DeviceTokenIn, PatrolIn, PositionBatchIn, TaskActionIn, WorkerIn, parse

ALL_READERS = (Role.WORKER, Role.INTEGRATION, Role.DISPATCHER, Role.LEADER, Role.DISPLAY)
# a device id is the only credential of a device without a token: listed to the roles that set up phones only
DEVICE_ID_READERS = (Role.ADMIN, Role.DISPATCHER)
TASK_ACTIONS = {"acknowledge": "acknowledge", "arrive": "arrive", "finish": "feedback"}  # URL word → case action


def fix_time(t: datetime | int | None) -> datetime | None:
    """Traccar's rule for numbers: below 2^31-1 seconds, else milliseconds since the epoch."""
    if t is None:
        return None
    if isinstance(t, int):
        return datetime.fromtimestamp(t if t < 2147483647 else t / 1000, tz=timezone.utc)
    if t.tzinfo is None:
        raise ApiError(422, "fixes: t needs a time zone (Z or +08:00)", "fixes.t")
    return t


def _me(p: Principal) -> int:
    if p.worker_id is None:
        raise ApiError(403, "this account is not linked to a grid worker; sign in as a worker")
    return p.worker_id


def device_in_scope(session, p: Principal, device_id: str) -> bool:
    """May ``p`` send fixes for the worker carrying ``device_id``? An unknown device is left to ingest (which
    answers 404); another community's worker's device is answered the same way, so it neither moves nor leaks."""
    if p.community_id is None:
        return True
    wid = session.scalar(select(Worker.id).where(Worker.device_id == device_id))
    return wid is None or record_in_scope(session, p, "worker_id", wid)


def worker_out(w: Worker, grid_codes: dict[int, str], comm: dict[int, int], *, device_ids: bool = True) -> dict:
    """A worker for the admin lists; ``device_ids`` False leaves the device id out (only whether there is one)."""
    out = worker_public(w, comm.get(w.grid_id))
    out.update(device_id=w.device_id if device_ids else None, has_device=w.device_id is not None,
               grid_code=grid_codes.get(w.grid_id), active=w.active,
               service_phone=w.service_phone)  # public: every poster's call button dials it
    if device_ids:
        out["device_token_set"] = w.device_token_hash is not None
    return out


log = logging.getLogger(__name__)
bp = Blueprint("field_people", __name__)
PHONE_BUFFER = 2000  # fixes the phone app keeps offline and sends as one batch (dashboard/assets/40-mobile.js)


def _over_budget(key: str, n: int):
    """A 429 (field ``fixes``, ``Retry-After``) when ``n`` more fixes would overspend ``key``'s GC_RATE_POSITIONS
    budget, else None (the fixes are then counted)."""
    limits = current_app.extensions["gc_rate_limiters"]
    if limits.take("POSITIONS", key, cost=n):
        return None
    return too_many(limits, "POSITIONS", key, f"too many fixes for this {key.split(':')[0]} in this window "
                                              "(GC_RATE_POSITIONS); retry later", "fixes")


@bp.post("/api/v1/positions")
@require(Role.WORKER, Role.INTEGRATION, Role.DISPATCHER)
def post_positions():
    p = resolve_principal(services())
    body = parse(PositionBatchIn, request.get_json(silent=True))
    wid = acting_worker(p, body.worker_id)
    if wid is None and not body.device_id:
        raise ApiError(422, "name the device_id or worker_id the fixes belong to", "device_id")
    fixes = [Fix(device_id=None if wid else body.device_id, worker_id=wid, fix_time=fix_time(f.t), lat=f.lat,
                 lon=f.lon, speed=f.speed, bearing=f.bearing, accuracy=f.accuracy, battery=f.battery,
                 alarm=f.alarm, crs=body.crs, source="api") for f in body.fixes]
    with services().db.write() as s:
        if wid is not None and not record_in_scope(s, p, "worker_id", wid):
            raise ApiError(422, f"unknown worker {wid}", "worker_id")
        if wid is None and not device_in_scope(s, p, body.device_id):
            raise ApiError(404, f"unknown device {body.device_id!r}", "device_id")
        # spent only once the worker or device is known and in the caller's scope: nobody spends another's budget
        refused = _over_budget(f"worker:{wid}" if wid is not None else f"device:{body.device_id}", len(fixes))
        if refused is not None:
            return refused  # nothing written: the transaction holds no change
        res = ingest_fixes(s, fixes, locator=services().locator,
                           max_future_s=services().settings.position_max_future_s)
        if res.unknown_devices:
            raise ApiError(404, f"unknown device {body.device_id!r}", "device_id")
    services().frames.add(res.moved)  # after commit: the live marker moves with the next frame
    return jsonify({"accepted": res.accepted, "duplicates": res.duplicates, "outside": res.outside,
                    "alarms": res.alarms, "received": len(fixes)})


def _patrol(start: bool):
    p = resolve_principal(services())
    body = parse(PatrolIn, request.get_json(silent=True) or {})
    wid = acting_worker(p, body.worker_id)
    if wid is None:
        raise ApiError(422, "name the worker_id", "worker_id")
    with services().db.write() as s:
        w = s.get(Worker, wid) if record_in_scope(s, p, "worker_id", wid) else None
        if w is None:
            raise ApiError(422, f"unknown worker {wid}", "worker_id")
        pat = start_patrol(s, w) if start else end_patrol(s, w)
        out = {"worker_id": wid, "state": w.duty_state, "patrol": None if pat is None else {
            "id": pat.id, "started_at": iso(pat.started_at), "ended_at": iso(pat.ended_at),
            "grids_covered": pat.grids_covered}}
    return jsonify(out)


@bp.post("/api/v1/patrols/start")
@require(Role.WORKER, Role.INTEGRATION, Role.DISPATCHER)
def patrol_start():
    return _patrol(True)


@bp.post("/api/v1/patrols/stop")
@require(Role.WORKER, Role.INTEGRATION, Role.DISPATCHER)
def patrol_stop():
    return _patrol(False)


@bp.get("/api/v1/me")
@require(Role.WORKER)
def me():
    wid = _me(resolve_principal(services()))
    with services().db.read() as s:
        w = s.get(Worker, wid)
        g = s.get(Grid, w.grid_id) if w.grid_id else None
        out = worker_public(w, g.community_id if g else None)
        out["name"] = w.name  # her own name on her own phone: masking is for others' eyes (issue 27 item 6)
        out["grid"] = None if g is None else {"id": g.id, "code": g.code, "name": g.name,
                                              "community": g.community.name, "boundary": g.boundary,
                                              "centroid": [g.centroid_lat, g.centroid_lon]}
    return jsonify(out)


@bp.get("/api/v1/me/tasks")
@require(Role.WORKER)
def my_tasks():
    wid = _me(resolve_principal(services()))
    with services().db.read() as s:
        rows = list(s.scalars(select(Case).where(Case.assigned_worker_id == wid, Case.state.in_(
            [CaseState.DISPATCHED, CaseState.HANDLING])).order_by(Case.sla_due_at, Case.id)))
        items = cases_out(s, rows)
        ds = {d.case_id: d for d in s.scalars(select(Dispatch).where(
            Dispatch.case_id.in_([c.id for c in rows]), Dispatch.worker_id == wid,
            Dispatch.state.in_(("sent", "acknowledged", "arrived"))))} if rows else {}
    for it in items:
        d = ds.get(it["id"])
        it["dispatch"] = None if d is None else {"state": d.state, "sent_at": iso(d.sent_at),
                                                 "acknowledged_at": iso(d.acknowledged_at),
                                                 "arrived_at": iso(d.arrived_at)}
    return jsonify({"items": items, "total": len(items)})


@bp.post("/api/v1/me/tasks/<int:case_id>/<action>")
@require(Role.WORKER)
def task_action(case_id: int, action: str):
    p = resolve_principal(services())
    wid = _me(p)
    if action not in TASK_ACTIONS:
        raise ApiError(404, f"unknown task action {action!r}; one of {', '.join(TASK_ACTIONS)}", "action")
    body = parse(TaskActionIn, request.get_json(silent=True) or {})
    if action == "finish" and not (body.note or body.photos):
        raise ApiError(422, "finishing a task needs a note or an after photo", "note")
    try:
        with services().db.write() as s:
            c = s.get(Case, case_id)
            if c is None or c.assigned_worker_id != wid:
                raise ApiError(404, f"no task {case_id} for you", "case_id")
            w = s.get(Worker, wid)
            if action == "finish" and body.photos:
                photo_svc.attach(s, services().settings.uploads_dir, c, body.photos, stage="after")
            transition(s, c, TASK_ACTIONS[action], actor=w.name, note=body.note, calendar=services().calendar)
            out = case_out(s, c)
    except IllegalTransition as exc:
        raise ApiError(409, str(exc), "action")
    except CaseError as exc:
        raise ApiError(422, exc.message, exc.field)
    except photo_svc.PhotoError as exc:
        raise ApiError(exc.status, exc.message, exc.field)
    return jsonify(out)


@bp.get("/api/v1/categories/tree")
@require(*ALL_READERS)
def category_tree():
    with services().db.read() as s:
        rows = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    majors: dict[str, dict] = {}
    for c in rows:
        m = majors.setdefault(c.major_code, {"code": c.major_code, "name": c.major_name, "children": []})
        m["children"].append({"code": c.code, "name": c.name, "time_limit_hours": c.time_limit_hours,
                              "default_priority": c.default_priority, "keywords": c.keywords})
    return jsonify(list(majors.values()))


@bp.get("/api/v1/workers")
@require(Role.INTEGRATION, Role.DISPATCHER)
def list_workers():
    """Workers (with device ids for admins and dispatchers); a community operator's are those whose home grid is
    in its community."""
    size = int_arg(request.args, "page_size", 100, lo=1, hi=1000)
    page = page_arg(request.args, size)
    p = resolve_principal(services())
    comm = scope_community(p)
    device_ids = p.role in DEVICE_ID_READERS
    with services().db.read() as s:
        q = select(Worker)
        if comm is not None:
            q = q.where(Worker.grid_id.in_(select(Grid.id).where(Grid.community_id == comm)))
        if text := request.args.get("q", "").strip():
            # others find a device only by its whole id: a substring search would spell the ids out; a person by
            # her whole name (a dispatcher on the phone with 张三丰 finds her; 张 alone would read the masked names out)
            q = q.where(or_(Worker.code.contains(text),
                            Worker.device_id.contains(text) if device_ids else Worker.device_id == text,
                            Worker.name == normalise_name(text)))
        if grid := request.args.get("grid"):
            q = q.join(WorkerGrid, WorkerGrid.worker_id == Worker.id).join(Grid, Grid.id == WorkerGrid.grid_id) \
                .where(Grid.code == grid)
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        ws = s.scalars(q.order_by(Worker.code).offset((page - 1) * size).limit(size)).all()
        gids = {w.grid_id for w in ws if w.grid_id}
        grows = s.execute(select(Grid.id, Grid.code, Grid.community_id).where(Grid.id.in_(gids))).all() \
            if gids else []
    codes, comm = {r.id: r.code for r in grows}, {r.id: r.community_id for r in grows}
    return jsonify({"items": [worker_out(w, codes, comm, device_ids=device_ids) for w in ws], "total": total,
                    "page": page, "page_size": size})


def _device_token(worker_id: int, token: str | None, clear: bool = False):
    with services().db.write() as s:
        w = s.get(Worker, worker_id) if record_in_scope(s, resolve_principal(services()), "worker_id",
                                                        worker_id) else None
        if w is None:
            raise ApiError(404, f"unknown worker {worker_id}", "worker_id")
        if w.device_id is None and not clear:
            raise ApiError(422, f"worker {w.code} has no device_id to protect", "device_id")
        if clear:
            w.device_token_hash = None
        else:
            token = set_device_token(w, token)
        out = {"worker_id": w.id, "code": w.code, "device_id": w.device_id, "token": None if clear else token}
    return jsonify(out)


@bp.post("/api/v1/workers/<int:worker_id>/device-token")
@require(Role.ADMIN)
def set_worker_device_token(worker_id: int):
    """Set (or rotate) the worker's device token; the answer shows it once, the database keeps a hash."""
    data = request.get_json(silent=True)
    body = parse(DeviceTokenIn, {} if data is None else data)
    return _device_token(worker_id, body.token)


@bp.delete("/api/v1/workers/<int:worker_id>/device-token")
@require(Role.ADMIN)
def clear_worker_device_token(worker_id: int):
    """Remove the token: the device id alone identifies the device again."""
    return _device_token(worker_id, None, clear=True)


@bp.post("/api/v1/workers")
@require(Role.INTEGRATION)
def create_worker():
    p = resolve_principal(services())
    body = parse(WorkerIn, request.get_json(silent=True))
    with services().db.write() as s:
        if s.scalar(select(Worker.id).where(Worker.code == body.code)) is not None:
            raise ApiError(409, f"worker code {body.code} exists", "code")
        if body.device_id and s.scalar(select(Worker.id).where(Worker.device_id == body.device_id)) is not None:
            raise ApiError(409, f"device {body.device_id} belongs to another worker", "device_id")
        g = None
        if body.grid_code:
            g = s.scalar(select(Grid).where(Grid.code == body.grid_code))
            if g is None:
                raise ApiError(422, f"unknown grid {body.grid_code!r}", "grid_code")
            if not in_scope(p, g.community_id):  # a community's system adds workers to its own grids only
                raise ApiError(403, f"grid {body.grid_code} is outside your jurisdiction", "grid_code")
        w = Worker(code=body.code, name=body.name, phone=body.phone, device_id=body.device_id,
                   grid_id=g.id if g else None, role=body.role, shift=body.shift)
        if g is not None:
            w.grids = [WorkerGrid(grid_id=g.id, primary=True)]
        s.add(w)
        s.flush()
        out = worker_out(w, {g.id: g.code} if g else {}, {g.id: g.community_id} if g else {})
    return jsonify(out), 201


@bp.get("/api/v1/grids")
@require(*ALL_READERS)
def grids():
    comm = id_arg(request.args, "community_id")
    with services().db.read() as s:
        return jsonify(grids_geojson(s, comm))


def register(app, services) -> None:
    budget = app.extensions["gc_rate_limiters"].items.get("POSITIONS")
    if budget is not None and budget.amount < PHONE_BUFFER:
        log.warning("GC_RATE_POSITIONS allows %d fixes per worker per window, fewer than the phone app sends after "
                    "a long time offline (%d): such a phone would retry forever", budget.amount, PHONE_BUFFER)
    app.register_blueprint(bp)
    api = registry(app)
    _describe(api)


def _describe(api) -> None:
    counts = {"type": "object", "properties": {k: {"type": "integer"} for k in
                                               ("accepted", "duplicates", "outside", "alarms", "received")}}
    api.add("/api/v1/positions", "post", summary="A batch of GPS fixes from a native app", tags=["positions"],
            roles=("worker", "integration", "dispatcher"), body=PositionBatchIn,
            description="Answered after commit. Duplicates (same worker, time, lat, lon) are dropped; late fixes "
                        "join the track without moving the live marker back. Points outside the street are kept "
                        "and flagged.", responses={200: ("counts", api.schema("PositionCounts", counts)),
                                                   404: "unknown device",
                                                   429: "too many fixes for this worker or device (Retry-After; "
                                                        "GC_RATE_POSITIONS)"})
    for word in ("start", "stop"):
        api.add(f"/api/v1/patrols/{word}", "post", summary=f"Patrol {word}", tags=["patrols"],
                roles=("worker", "integration", "dispatcher"), body=PatrolIn)
    api.add("/api/v1/me", "get", summary="The signed-in worker and their grid", tags=["me"], roles=("worker",))
    api.add("/api/v1/me/tasks", "get", summary="Open tasks dispatched to me", tags=["me"], roles=("worker",))
    api.add("/api/v1/me/tasks/{case_id}/{action}", "post", summary="签收 / 到场 / 处置反馈", tags=["me"],
            roles=("worker",), body=TaskActionIn, params=[{"name": "action", "in": "path", "required": True,
                                                          "schema": {"type": "string", "enum": list(TASK_ACTIONS)}}],
            responses={200: "the case", 404: "not my task", 409: "the case's state does not allow it"})
    api.add("/api/v1/categories/tree", "get", summary="Active categories as a tree: 大类 with their 小类",
            tags=["categories"],
            roles=ALL_READERS)
    api.add("/api/v1/workers", "get", summary="Workers (masked names); device ids for admins and dispatchers only",
            tags=["admin"],
            roles=("integration", "dispatcher"), params=[query("q", description="code contains, the device id (contains, for those who may read device ids; whole otherwise) or the whole name"),
                                                         query("grid", description="grid code"),
                                                         query("page", "integer", minimum=1),
                                                         query("page_size", "integer", minimum=1, maximum=1000)])
    api.add("/api/v1/workers", "post", summary="Create a worker", tags=["admin"], roles=("integration", "admin"),
            body=WorkerIn, responses={201: "created", 409: "code or device id taken",
                                      403: "grid_code is outside a community-bound caller's community"})
    wid = [{"name": "worker_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}]
    api.add("/api/v1/workers/{worker_id}/device-token", "post", summary="Set or rotate a device's OsmAnd token",
            tags=["admin"], roles=("admin",), body=DeviceTokenIn, params=wid,
            description="Without a body (or without `token`) the server draws a random token. The answer shows it "
                        "once; the database keeps its SHA-256. From then on the device's fixes need it (`token=` or "
                        "HTTP Basic password), else 401.",
            responses={200: "the token, shown once", 404: "unknown worker", 422: "the worker has no device_id"})
    api.add("/api/v1/workers/{worker_id}/device-token", "delete", summary="Remove a device's OsmAnd token",
            tags=["admin"], roles=("admin",), params=wid, responses={200: "removed", 404: "unknown worker"})
    api.add("/api/v1/grids", "get", summary="Grids as a GeoJSON FeatureCollection (WGS-84)", tags=["catalogue"],
            roles=ALL_READERS, params=[query("community_id", "integer")])
