"""Accounts: the first admin, users bound to the street or a community, passwords (scrypt)."""
from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import Community, Role, User, Worker

log = logging.getLogger(__name__)
ROLES = [r.value for r in Role]
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # scrypt takes any length; a megabyte of "password" is a request to burn CPU


def hash_password(password: str) -> str:
    """scrypt (werkzeug's default method)."""
    return generate_password_hash(password, method="scrypt")


def check_password_strength(password: str) -> str | None:
    """Why ``password`` is too weak, or None."""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if password.isdigit() or len(set(password)) < 4:
        return "too simple"
    return None


def strong_password(password: str) -> str:
    """``password`` when it meets the rule, else ValueError saying why (a pydantic validator of NewPassword)."""
    why = check_password_strength(password)
    if why:
        raise ValueError(why)
    return password


# Every password a person sets — a new account's, an admin's reset, a user's own change — is this type, so no
# path can skip the rule (the reset once did, when each path checked by hand).
NewPassword = Annotated[str, Field(strict=True, max_length=MAX_PASSWORD), AfterValidator(strong_password)]


def ensure_admin(session: Session, username: str = "admin") -> str | None:
    """On a database without any admin, create one with a one-time password and return it (else None)."""
    if session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN)):
        return None
    password = secrets.token_urlsafe(12)
    name = username
    while session.scalar(select(User.id).where(User.username == name)) is not None:
        name = f"{username}{secrets.randbelow(1000)}"
    session.add(User(username=name, display_name="管理员", role=Role.ADMIN, password_hash=hash_password(password),
                     must_change_password=True))
    session.flush()
    return f"{name} {password}"


# changing any of these ends the user's earlier sessions: what they were allowed to do no longer holds
SESSION_FIELDS = ("role", "community_id", "worker_id", "active")


def end_sessions(user: User) -> None:
    """Move ``user``'s session generation on: every session begun before is refused from now on."""
    user.session_gen = (user.session_gen or 0) + 1


def session_current(user: User | None, generation: object) -> bool:
    """Is a session begun at ``generation`` still valid for ``user`` (exists, active, same generation)?"""
    return user is not None and bool(user.active) and isinstance(generation, int) and \
        generation == (user.session_gen or 0)


def user_public(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "community_id": u.community_id, "worker_id": u.worker_id, "active": u.active,
            "must_change_password": u.must_change_password}


def missing_reference(session: Session, community_id: int | None = None, worker_id: int | None = None) -> str | None:
    """The first of ``community_id`` / ``worker_id`` that names no record, or None (the shapes are the request
    models' concern; whether the records exist is the database's)."""
    for key, model, v in (("community_id", Community, community_id), ("worker_id", Worker, worker_id)):
        if v is not None and session.get(model, v) is None:
            return key
    return None


def change_password(session: Session, user_id: int, old: str, new: str) -> None:
    """Replace a password after checking the old one; raises ValueError(field, message)."""
    u = session.get(User, user_id)
    if u is None or not u.password_hash or not check_password_hash(u.password_hash, old):
        raise ValueError("old_password", "the current password is wrong")
    why = check_password_strength(new)
    if why:
        raise ValueError("new_password", why)
    if new == old:
        raise ValueError("new_password", "choose a new password")
    u.password_hash, u.must_change_password = hash_password(new), False
    end_sessions(u)
