"""Browser sign-in for the pages: /auth/login, /auth/logout, /auth/me, and the demo worker sign-in.

The demo sign-in (``POST /auth/demo-worker``) exists only in demo mode and only for
requests from this machine, like the demo operator in ``auth.resolve_principal``: it
signs the browser in as a chosen grid worker so /m can be tried without passwords.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import or_, select

from ..models import Role, User, Worker
from .deps import services
from .auth import require, sign_in, sign_out, start_session
from ..principal import demo_local, resolve_principal
from .errors import ApiError
from .openapi import registry
from .schemas import parse


def demo_allowed(services) -> bool:
    """Demo sign-in: demo mode, not production, and a request from this machine."""
    return demo_local(services)


class LoginIn(BaseModel):
    """A sign-in (JSON, or the form fields of the same names). Other fields are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["username", "password"]})

    username: str = Field(default="", strict=True, validate_default=True,
                          description="leading and trailing spaces are dropped")
    password: str = Field(default="", strict=True, validate_default=True)

    @field_validator("username", "password", mode="before")
    @classmethod
    def _left_out(cls, v: Any) -> Any:
        return v or ""  # null, "" and a missing field alike: "… is required" (the login page's code "required")

    @field_validator("username", "password")
    @classmethod
    def _given(cls, v: str, info: ValidationInfo) -> str:
        v = v.strip() if info.field_name == "username" else v
        if not v:
            raise ValueError(f"{info.field_name} is required")
        return v


class DemoWorkerIn(BaseModel):
    """The grid worker to sign in as: its code or id, as ``worker`` (or ``code``)."""

    model_config = ConfigDict(extra="ignore")

    code: str | int | None = Field(default=None, description="the same as worker")
    worker: str | int | None = Field(default=None, description="a worker's code or id", validate_default=True)

    @field_validator("worker")
    @classmethod
    def _named(cls, v: str | int | None, info: ValidationInfo) -> str:
        ref = str(v or info.data.get("code") or "").strip()
        if not ref:
            raise ValueError("name the worker (code or id)")
        return ref


bp = Blueprint("session", __name__)


@bp.post("/auth/login")
def login():
    body = request.get_json(silent=True)
    creds = parse(LoginIn, body if isinstance(body, dict) else request.form.to_dict())
    u = sign_in(services(), creds.username, creds.password)
    if u is None:
        raise ApiError(401, "wrong username or password", "password")
    return jsonify({"username": u.username, "role": u.role, "worker_id": u.worker_id,
                    "display_name": u.display_name, "must_change_password": bool(u.must_change_password)})


@bp.post("/auth/logout")
def logout():
    sign_out(services())  # every session of this user ends, a saved copy of the cookie too
    return jsonify({"ok": True})


@bp.get("/auth/me")
def whoami():
    p = resolve_principal(services())
    if p is None:
        return jsonify({"signed_in": False, "demo": demo_allowed(services())})
    return jsonify({"signed_in": True, "name": p.name, "role": p.role, "worker_id": p.worker_id,
                    "via": p.via, "demo": demo_allowed(services())})


@bp.post("/auth/demo-worker")
@require()
def demo_worker():
    if not demo_allowed(services()):
        raise ApiError(403, "demo sign-in is only available in demo mode from this machine")
    ref = parse(DemoWorkerIn, request.get_json(silent=True) or {}).worker
    with services().db.write() as s:
        w = s.scalar(select(Worker).where(or_(Worker.code == ref, Worker.id == (int(ref) if ref.isdigit()
                                                                               else -1))))
        if w is None or not w.active:
            raise ApiError(404, f"no active worker {ref!r}", "worker")
        username = f"worker:{w.code}"
        u = s.scalar(select(User).where(User.username == username))
        if u is None:  # a password-less account, usable only through this demo door
            u = User(username=username, display_name=w.name, role=Role.WORKER, worker_id=w.id,
                     password_hash=None)
            s.add(u)
            s.flush()
        start_session(u)
        out = {"username": u.username, "role": u.role, "worker_id": w.id, "code": w.code}
    return jsonify(out)


def register(app, services) -> None:
    app.register_blueprint(bp)
    api = registry(app)
    api.add("/auth/login", "post", summary="Sign in (session cookie)", tags=["auth"], security=False, body=LoginIn,
        responses={200: "signed in", 401: "wrong username or password"})
    api.add("/auth/logout", "post", summary="Sign out", tags=["auth"], security=False)
    api.add("/auth/me", "get", summary="Who am I", tags=["auth"], security=False)
    api.add("/auth/demo-worker", "post", summary="Demo mode only: sign in as a grid worker", tags=["auth"],
            body=DemoWorkerIn)
