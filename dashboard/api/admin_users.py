"""Admin and security endpoints: users, API keys and display tokens, the audit log, unmasking, passwords."""
from __future__ import annotations

from datetime import datetime

from flask import jsonify, request
from sqlalchemy import select

from ..models import ApiKey, Case, Role, User, Worker
from ..services import audit
from ..services.apikeys import create_api_key
from ..services.users import (
    SESSION_FIELDS,
    change_password,
    check_password_strength,
    end_sessions,
    hash_password,
    user_public,
    validate,
)
from ..timeutil import iso, utcnow
from ..principal import in_scope, record_in_scope, resolve_principal
from .auth import require
from .errors import ApiError, int_arg
from .openapi import registry

# a case's free text is masked for screens (phones, ID numbers, known names): its clear text is unmasked here too
UNMASKABLE = {"case": {"reporter_name", "reporter_phone", "reporter_email", "description", "address"},
              "worker": {"name", "phone"}}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object")
    return body


def _checked(fn):
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


def register(app, services) -> None:
    api = registry(app)
    ip = lambda: request.remote_addr  # noqa: E731

    def bound(p, body: dict, *, create: bool) -> dict:
        """A community-bound admin manages its own community only: the record's community_id must be its own
        (absent on a create → its own); naming another, or none (street-wide), is refused."""
        if p is None or p.community_id is None:
            return body
        if "community_id" in body and body["community_id"] != p.community_id:
            raise ApiError(403, f"community {body['community_id']} is outside your jurisdiction", "community_id")
        return {**body, "community_id": p.community_id} if create else body

    def own_rows(p, rows):
        return [r for r in rows if p is None or p.community_id is None or r.community_id == p.community_id]

    @app.get("/api/v1/users")
    @require(Role.ADMIN, services=services)
    def users_list():
        p = resolve_principal(services)
        with services.db.read() as s:
            rows = own_rows(p, s.scalars(select(User).order_by(User.id)))
            return jsonify({"users": [user_public(u) for u in rows]})

    @app.post("/api/v1/users")
    @require(Role.ADMIN, services=services)
    def users_create():
        p = resolve_principal(services)
        body = bound(p, _body(), create=True)
        password = body.get("password")
        if not isinstance(password, str):
            raise ApiError(422, "password is required", "password")
        if check_password_strength(password):
            raise ApiError(422, check_password_strength(password), "password")
        with services.db.write() as s:
            fields = _checked(lambda: validate(s, body, partial=False))
            if s.scalar(select(User.id).where(User.username == fields["username"])) is not None:
                raise ApiError(409, "username taken", "username")
            u = User(**fields, password_hash=hash_password(password), must_change_password=True)
            s.add(u)
            s.flush()
            audit.record(s, p, "user_create", f"user:{u.id}", {k: v for k, v in fields.items()}, ip())
            out = user_public(u)
        return jsonify(out), 201

    @app.patch("/api/v1/users/<int:user_id>")
    @require(Role.ADMIN, services=services)
    def users_edit(user_id: int):
        p, body = resolve_principal(services), _body()
        with services.db.write() as s:
            u = s.get(User, user_id)
            if u is None or not own_rows(p, [u]):
                raise ApiError(404, "no such user")
            body = bound(p, body, create=False)
            fields = _checked(lambda: validate(s, body, partial=True))
            if "password" in body:  # a reset meets the same strength rule as a new account's password
                if not isinstance(body["password"], str):
                    raise ApiError(422, "password must be a string", "password")
                if check_password_strength(body["password"]):
                    raise ApiError(422, check_password_strength(body["password"]), "password")
            ends = any(k in SESSION_FIELDS and getattr(u, k) != v for k, v in fields.items())
            for k, v in fields.items():
                setattr(u, k, v)
            if "password" in body:
                u.password_hash, u.must_change_password = hash_password(body["password"]), True
                fields["password"] = "(reset)"
                ends = True
            if ends:  # what the user's open sessions were allowed to do no longer holds
                end_sessions(u)
            audit.record(s, p, "user_edit", f"user:{u.id}", fields, ip())
            out = user_public(u)
        return jsonify(out)

    @app.get("/api/v1/api-keys")
    @require(Role.ADMIN, services=services)
    def keys_list():
        p = resolve_principal(services)
        with services.db.read() as s:
            rows = own_rows(p, s.scalars(select(ApiKey).order_by(ApiKey.id)))
            return jsonify({"keys": [key_public(k) for k in rows]})

    @app.post("/api/v1/api-keys")
    @require(Role.ADMIN, services=services)
    def keys_create():
        """A new key (integration, device or a wall's display token); the key is shown only here."""
        p = resolve_principal(services)
        body = bound(p, _body(), create=True)
        with services.db.write() as s:
            extra = _checked(lambda: validate(s, {k: body[k] for k in ("community_id", "worker_id") if k in body},
                                              partial=True))
            name, role = body.get("name"), body.get("role")
            if not isinstance(name, str) or not isinstance(role, str):
                raise ApiError(422, "name and role are required", "name")
            key_worker_in_scope(s, p, role, extra.get("worker_id"))
            row, key = _checked(lambda: create_api_key(s, name=name, role=role, **extra))
            audit.record(s, p, "api_key_create", f"api_key:{row.id}", {"role": role, "name": name}, ip())
            out = {**key_public(row), "key": key}
        if role == Role.DISPLAY:  # what the one who sets up the screen needs: its URL, as text and as a QR code
            out["kiosk_url"] = kiosk_url(request.host_url, key)
            out["qr_svg"] = qr_svg(out["kiosk_url"])
        return jsonify(out), 201

    @app.delete("/api/v1/api-keys/<int:key_id>")
    @require(Role.ADMIN, services=services)
    def keys_revoke(key_id: int):
        p = resolve_principal(services)
        with services.db.write() as s:
            row = s.get(ApiKey, key_id)
            if row is None or not own_rows(p, [row]):
                raise ApiError(404, "no such key")
            row.revoked_at = row.revoked_at or utcnow()
            audit.record(s, p, "api_key_revoke", f"api_key:{row.id}", {"role": row.role}, ip())
            out = key_public(row)
        return jsonify(out)

    @app.get("/api/v1/audit")
    @require(Role.ADMIN, services=services)
    def audit_view():
        """The audit log, newest first; a community-bound admin reads its community's actors' rows only."""
        p = resolve_principal(services)
        limit = int_arg(request.args, "limit", 100, lo=1, hi=1000)
        offset = int_arg(request.args, "offset", 0, lo=0, hi=10_000_000)
        with services.db.read() as s:
            rows, total = audit.query(s, action=request.args.get("action") or None,
                                      actor=request.args.get("actor") or None,
                                      target=request.args.get("target") or None, since=_time_arg("since"),
                                      until=_time_arg("until"), limit=limit, offset=offset,
                                      community_id=p.community_id if p is not None else None)
        return jsonify({"entries": rows, "total": total, "limit": limit, "offset": offset,
                        "retention_days": audit.retention_days(services.settings)})

    @app.post("/api/v1/unmask")
    @require(Role.ADMIN, Role.DISPATCHER, services=services)
    def unmask():
        """The clear value of one masked field, for a stated reason; written to the audit log."""
        p, body = resolve_principal(services), _body()
        kind, field, rid, reason = body.get("kind"), body.get("field"), body.get("id"), body.get("reason")
        if not isinstance(kind, str) or kind not in UNMASKABLE:
            raise ApiError(422, f"kind must be one of {', '.join(UNMASKABLE)}", "kind")
        if not isinstance(field, str) or field not in UNMASKABLE[kind]:
            raise ApiError(422, f"field must be one of {', '.join(sorted(UNMASKABLE[kind]))}", "field")
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise ApiError(422, "id must be an integer", "id")
        if not isinstance(reason, str) or len(reason.strip()) < 4:
            raise ApiError(422, "state the reason (at least 4 characters)", "reason")
        with services.db.write() as s:
            row = s.get(Case if kind == "case" else Worker, rid)
            comm = None
            if row is not None and kind == "case":
                comm = row.community_id
            elif row is not None:
                from ..models import Grid

                grid = s.get(Grid, row.grid_id) if row.grid_id else None
                comm = grid.community_id if grid else None
            if row is None or not in_scope(p, comm):
                raise ApiError(404, f"no such {kind}")
            value = getattr(row, field)
            audit.record(s, p, "unmask", f"{kind}:{rid}", {"field": field, "reason": reason.strip()[:500]}, ip())
        return jsonify({"kind": kind, "id": rid, "field": field, "value": value})

    @app.post("/auth/password")
    @require(services=services)
    def password_change():
        p, body = resolve_principal(services), _body()
        if p.user_id is None:
            raise ApiError(403, "only a signed-in user has a password")
        old, new = body.get("old_password"), body.get("new_password")
        if not isinstance(old, str) or not isinstance(new, str):
            raise ApiError(422, "old_password and new_password are required", "new_password")
        try:
            with services.db.write() as s:
                _checked(lambda: change_password(s, p.user_id, old, new))  # ends every other session of the user
                audit.record(s, p, "password_change", f"user:{p.user_id}", None, ip())
                gen = s.get(User, p.user_id).session_gen
        except ApiError as e:
            if e.field == "old_password":  # a guess at the current password is on record (and rate-limited)
                with services.db.write() as s:
                    audit.record(s, p, "password_change_failed", f"user:{p.user_id}", None, ip())
            raise
        from flask import session
        from flask_login import current_user

        from ..principal import SESSION_GEN

        session[SESSION_GEN] = gen  # this session, which knew the old password, carries on
        current_user.must_change_password = False
        return jsonify({"ok": True})

    obj = lambda req, props: {"type": "object", "required": req, "properties": props}  # noqa: E731
    s_, i_ = {"type": "string"}, {"type": "integer"}
    api.add("/api/v1/users", "get", summary="Users (admin)", tags=["admin"])
    api.add("/api/v1/users", "post", summary="Create a user (admin)", tags=["admin"], body=obj(
        ["username", "role", "password"], {"username": s_, "role": s_, "password": s_, "display_name": s_,
                                           "community_id": i_, "worker_id": i_}))
    api.add("/api/v1/users/{user_id}", "patch", summary="Edit a user (admin)", tags=["admin"],
            params=[{"name": "user_id", "in": "path", "required": True, "schema": i_}],
            body=obj([], {"role": s_, "active": {"type": "boolean"}, "community_id": i_, "password": s_}))
    api.add("/api/v1/api-keys", "get", summary="API keys and display tokens (admin)", tags=["admin"])
    api.add("/api/v1/api-keys", "post", summary="Create an API key or display token (admin)", tags=["admin"],
            body=obj(["name", "role"], {"name": s_, "role": s_, "community_id": i_, "worker_id": i_}))
    api.add("/api/v1/api-keys/{key_id}", "delete", summary="Revoke an API key (admin)", tags=["admin"],
            params=[{"name": "key_id", "in": "path", "required": True, "schema": i_}])
    api.add("/api/v1/audit", "get", summary="The audit log (admin), newest first", tags=["admin"],
            params=[{"name": n, "in": "query", "schema": s_} for n in ("action", "actor", "target", "since", "until")]
            + [{"name": n, "in": "query", "schema": i_} for n in ("limit", "offset")])
    api.add("/api/v1/unmask", "post", summary="Show one masked field, with a reason (audited)", tags=["admin"],
            body=obj(["kind", "id", "field", "reason"], {"kind": s_, "id": i_, "field": s_, "reason": s_}))
    api.add("/auth/password", "post", summary="Change my password", tags=["auth"],
            body=obj(["old_password", "new_password"], {"old_password": s_, "new_password": s_}))
