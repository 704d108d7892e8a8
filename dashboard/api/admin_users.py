"""Admin and security endpoints: users, API keys and display tokens, the audit log, unmasking, passwords."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field
from sqlalchemy import select

from ..models import ApiKey, Case, Role, User, Worker
from ..principal import SESSION_GEN, Principal, in_scope, record_in_scope
from ..services import audit
from ..services.apikeys import create_api_key
from ..services.users import (
    MAX_PASSWORD,
    SESSION_FIELDS,
    NewPassword,
    change_password,
    end_sessions,
    hash_password,
    missing_reference,
    user_public,
)
from ..timeutil import iso, utcnow
from .auth import require
from .deps import caller, services
from .errors import ApiError, int_arg
from .openapi import registry
from .schemas import LEFT_OUT, Name, StrictBody, StrictBool, StrictId, fields_set, parse

# a case's free text is masked for screens (phones, ID numbers, known names): its clear text is unmasked here too
UNMASKABLE = {"case": {"reporter_name", "reporter_phone", "reporter_email", "description", "address"},
              "worker": {"name", "phone"},
              "visit": {"whom", "place", "needs", "opinions", "follow_up"}}  # a worker's visit (走访, issue 31)


class UserIn(StrictBody):
    """A new account: it signs in with ``password`` once and must change it then."""

    username: Name
    role: Role
    password: NewPassword = Field(description="the one-time password (the strength rule of every password)")
    display_name: str = Field(default="", strict=True, max_length=64)
    community_id: StrictId | None = Field(default=None, description="null: street-wide")
    worker_id: StrictId | None = Field(default=None, description="the grid worker this account is")


class UserEditIn(StrictBody):
    """The fields to change; ``password`` is an admin's reset (a one-time password again)."""

    username: Name = LEFT_OUT
    role: Role = LEFT_OUT
    display_name: str = Field(default=LEFT_OUT, strict=True, max_length=64)
    community_id: StrictId | None = None
    worker_id: StrictId | None = None
    active: StrictBool = LEFT_OUT
    password: NewPassword = Field(default=LEFT_OUT, description="a reset: the user changes it at the next sign-in")


class ApiKeyIn(StrictBody):
    """An integration, device or worker key, or a wall's display token."""

    name: Name
    role: Role
    community_id: StrictId | None = None
    worker_id: StrictId | None = Field(default=None, description="required for a worker key")


class UnmaskIn(StrictBody):
    kind: Literal["case", "worker", "visit"]
    field: str = Field(strict=True, max_length=64, description="a masked field of that kind")
    id: StrictId
    reason: str = Field(strict=True, min_length=4, description="why the clear value is needed (audited)")


class PasswordChangeIn(StrictBody):
    old_password: str = Field(strict=True, max_length=MAX_PASSWORD)
    new_password: NewPassword


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object", "body")
    return body


def _known(session, fields: dict[str, Any]) -> None:
    """The community and worker named exist (a 422 naming the field)."""
    bad = missing_reference(session, fields.get("community_id"), fields.get("worker_id"))
    if bad is not None:
        raise ApiError(422, f"no such {bad[:-3]}", bad)


def _checked(fn):  # the core's checks that need the database (create_api_key, change_password)
    """Run a validator, turning ValueError(field, message) into a 422."""
    try:
        return fn()
    except ValueError as e:
        field, msg = (e.args + ("",))[:2] if len(e.args) > 1 else (None, str(e))
        raise ApiError(422, msg, field)


def _time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 time", name)


def key_public(k: ApiKey) -> dict:
    return {"id": k.id, "name": k.name, "role": k.role, "prefix": k.prefix, "community_id": k.community_id,
            "worker_id": k.worker_id, "created_at": iso(k.created_at), "revoked_at": iso(k.revoked_at),
            "last_used_at": iso(k.last_used_at)}


def kiosk_url(host_url: str, key: str) -> str:
    """The address a wall display opens once: it signs the screen in with its token (api/security.py)."""
    return host_url.rstrip("/") + "/wall?display_token=" + key


def qr_svg(text: str) -> str:
    """``text`` as an inline SVG QR code, made here (a kiosk's URL is a secret: no outside QR service)."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=4, border=2, title="QR")


def key_worker_in_scope(session, p, role: str, worker_id: int | None) -> None:
    """A worker key names its worker (else it would read as nobody in particular), and the worker a key is bound
    to lies in the creating admin's jurisdiction; another community's worker answers as an unknown one."""
    if role == Role.WORKER and worker_id is None:
        raise ApiError(422, "a worker key needs the worker_id of the grid worker it belongs to", "worker_id")
    if worker_id is not None and not record_in_scope(session, p, "worker_id", worker_id):
        raise ApiError(422, f"unknown worker {worker_id}", "worker_id")


def ip() -> str | None:
    """The caller's address, for the audit row."""
    return request.remote_addr


def bound(p: Principal, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """A community-bound admin manages its own community only: the record's community_id must be its own
    (absent on a create → its own); naming another, or none (street-wide), is refused."""
    if p.community_id is None:
        return body
    if "community_id" in body and body["community_id"] != p.community_id:
        raise ApiError(403, f"community {body['community_id']} is outside your jurisdiction", "community_id")
    return {**body, "community_id": p.community_id} if create else body


def own_rows(p: Principal, rows):
    return [r for r in rows if p.community_id is None or r.community_id == p.community_id]


bp = Blueprint("admin_users", __name__)


@bp.get("/api/v1/users")
@require(Role.ADMIN)
def users_list():
    p = caller()
    with services().db.read() as s:
        rows = own_rows(p, s.scalars(select(User).order_by(User.id)))
        return jsonify({"users": [user_public(u) for u in rows]})


@bp.post("/api/v1/users")
@require(Role.ADMIN)
def users_create():
    p = caller()
    fields = fields_set(UserIn, bound(p, _body(), create=True))
    password = fields.pop("password")
    with services().db.write() as s:
        _known(s, fields)
        if s.scalar(select(User.id).where(User.username == fields["username"])) is not None:
            raise ApiError(409, "username taken", "username")
        u = User(**fields, password_hash=hash_password(password), must_change_password=True)
        s.add(u)
        s.flush()
        audit.record(s, p, "user_create", f"user:{u.id}", fields, ip())
        out = user_public(u)
    return jsonify(out), 201


@bp.patch("/api/v1/users/<int:user_id>")
@require(Role.ADMIN)
def users_edit(user_id: int):
    p, body = caller(), _body()
    with services().db.write() as s:
        u = s.get(User, user_id)
        if u is None or not own_rows(p, [u]):
            raise ApiError(404, "no such user")
        fields = fields_set(UserEditIn, bound(p, body, create=False))
        password = fields.pop("password", None)
        _known(s, fields)
        if "username" in fields and s.scalar(select(User.id).where(User.username == fields["username"],
                                                                   User.id != u.id)) is not None:
            raise ApiError(409, "username taken", "username")
        ends = any(k in SESSION_FIELDS and getattr(u, k) != v for k, v in fields.items())
        for k, v in fields.items():
            setattr(u, k, v)
        if password is not None:  # a reset: the user signs in with it once, then must choose another
            u.password_hash, u.must_change_password = hash_password(password), True
            fields["password"] = "(reset)"
            ends = True
        if ends:  # what the user's open sessions were allowed to do no longer holds
            end_sessions(u)
        audit.record(s, p, "user_edit", f"user:{u.id}", fields, ip())
        out = user_public(u)
    return jsonify(out)


@bp.get("/api/v1/api-keys")
@require(Role.ADMIN)
def keys_list():
    p = caller()
    with services().db.read() as s:
        rows = own_rows(p, s.scalars(select(ApiKey).order_by(ApiKey.id)))
        return jsonify({"keys": [key_public(k) for k in rows]})


@bp.post("/api/v1/api-keys")
@require(Role.ADMIN)
def keys_create():
    """A new key (integration, device or a wall's display token); the key is shown only here."""
    p = caller()
    fields = fields_set(ApiKeyIn, bound(p, _body(), create=True))
    name, role = fields["name"], fields["role"]
    with services().db.write() as s:
        _known(s, fields)
        key_worker_in_scope(s, p, role, fields.get("worker_id"))
        row, key = _checked(lambda: create_api_key(s, name=name, role=role, community_id=fields.get("community_id"),
                                                   worker_id=fields.get("worker_id")))
        audit.record(s, p, "api_key_create", f"api_key:{row.id}", {"role": role, "name": name}, ip())
        out = {**key_public(row), "key": key}
    if role == Role.DISPLAY:  # what the one who sets up the screen needs: its URL, as text and as a QR code
        out["kiosk_url"] = kiosk_url(request.host_url, key)
        out["qr_svg"] = qr_svg(out["kiosk_url"])
    return jsonify(out), 201


@bp.delete("/api/v1/api-keys/<int:key_id>")
@require(Role.ADMIN)
def keys_revoke(key_id: int):
    p = caller()
    with services().db.write() as s:
        row = s.get(ApiKey, key_id)
        if row is None or not own_rows(p, [row]):
            raise ApiError(404, "no such key")
        row.revoked_at = row.revoked_at or utcnow()
        audit.record(s, p, "api_key_revoke", f"api_key:{row.id}", {"role": row.role}, ip())
        out = key_public(row)
    return jsonify(out)


@bp.get("/api/v1/audit")
@require(Role.ADMIN)
def audit_view():
    """The audit log, newest first; a community-bound admin reads its community's actors' rows only."""
    p = caller()
    limit = int_arg(request.args, "limit", 100, lo=1, hi=1000)
    offset = int_arg(request.args, "offset", 0, lo=0, hi=10_000_000)
    with services().db.read() as s:
        rows, total = audit.query(s, action=request.args.get("action") or None,
                                  actor=request.args.get("actor") or None,
                                  target=request.args.get("target") or None, since=_time_arg("since"),
                                  until=_time_arg("until"), limit=limit, offset=offset,
                                  community_id=p.community_id)
    return jsonify({"entries": rows, "total": total, "limit": limit, "offset": offset,
                    "retention_days": audit.retention_days(services().settings)})


@bp.post("/api/v1/unmask")
@require(Role.ADMIN, Role.DISPATCHER)
def unmask():
    """The clear value of one masked field, for a stated reason; written to the audit log."""
    p = caller()
    body = parse(UnmaskIn, _body())
    kind, field, rid, reason = body.kind, body.field, body.id, body.reason.strip()
    if field not in UNMASKABLE[kind]:
        raise ApiError(422, f"field must be one of {', '.join(sorted(UNMASKABLE[kind]))}", "field")
    if len(reason) < 4:
        raise ApiError(422, "state the reason (at least 4 characters)", "reason")
    with services().db.write() as s:
        from ..models import Visit

        row = s.get({"case": Case, "worker": Worker, "visit": Visit}[kind], rid)
        comm = None
        if isinstance(row, (Case, Visit)):
            comm = row.community_id
        elif isinstance(row, Worker):
            from ..models import Grid

            grid = s.get(Grid, row.grid_id) if row.grid_id else None
            comm = grid.community_id if grid else None
        if row is None or not in_scope(p, comm):
            raise ApiError(404, f"no such {kind}")
        value = getattr(row, field)
        audit.record(s, p, "unmask", f"{kind}:{rid}", {"field": field, "reason": reason[:500]}, ip())
    return jsonify({"kind": kind, "id": rid, "field": field, "value": value})


@bp.post("/auth/password")
@require()
def password_change():
    p = caller()
    user_id = p.user_id
    if user_id is None:
        raise ApiError(403, "only a signed-in user has a password")
    body = parse(PasswordChangeIn, _body())
    try:
        with services().db.write() as s:
            _checked(lambda: change_password(s, user_id, body.old_password, body.new_password))  # ends the others
            audit.record(s, p, "password_change", f"user:{user_id}", None, ip())
            gen = s.get(User, user_id).session_gen
    except ApiError as e:
        if e.field == "old_password":  # a guess at the current password is on record (and rate-limited)
            with services().db.write() as s:
                audit.record(s, p, "password_change_failed", f"user:{user_id}", None, ip())
        raise
    from flask import session
    from flask_login import current_user

    session[SESSION_GEN] = gen  # this session, which knew the old password, carries on
    current_user.must_change_password = False
    return jsonify({"ok": True})


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    api.add("/api/v1/users", "get", summary="Users (admin)", tags=["admin"], roles=("admin",))
    api.add("/api/v1/users", "post", summary="Create a user (admin)", tags=["admin"], roles=("admin",), body=UserIn,
            responses={201: "created", 409: "the username is taken"})
    api.add("/api/v1/users/{user_id}", "patch", summary="Edit a user or reset its password (admin)", tags=["admin"],
            roles=("admin",), body=UserEditIn,
            responses={200: "edited", 404: "no such user", 409: "the username is taken"})
    api.add("/api/v1/api-keys", "get", summary="API keys and display tokens (admin)", tags=["admin"],
            roles=("admin",))
    api.add("/api/v1/api-keys", "post", summary="Create an API key or display token (admin)", tags=["admin"],
            roles=("admin",), body=ApiKeyIn, responses={201: "created; the key is shown only in this answer"})
    api.add("/api/v1/api-keys/{key_id}", "delete", summary="Revoke an API key (admin)", tags=["admin"],
            roles=("admin",), responses={200: "revoked", 404: "no such key"})
    api.add("/api/v1/audit", "get", summary="The audit log (admin), newest first", tags=["admin"], roles=("admin",),
            params=[{"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("action", "actor", "target", "since", "until")]
            + [{"name": n, "in": "query", "schema": {"type": "integer"}} for n in ("limit", "offset")])
    api.add("/api/v1/unmask", "post", summary="Show one masked field, with a reason (audited)", tags=["admin"],
            roles=("admin", "dispatcher"), body=UnmaskIn, responses={200: "the clear value", 404: "no such record"})
    api.add("/auth/password", "post", summary="Change my password", tags=["auth"], body=PasswordChangeIn,
            responses={200: "changed; this session carries on, every other one ends"})
