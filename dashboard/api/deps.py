"""What a blueprint's module-level view reaches its dependencies through: the app's ``Services``.

``create_app`` keeps the one ``Services`` object in ``app.extensions["gridcommand"]``; a view asks for it with
``services()`` while it serves a request (the Flask way: ``current_app``, no module-level state)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from ..errors import ApiError
from ..principal import Principal, resolve_principal

if TYPE_CHECKING:
    from ..app import Services


def services() -> "Services":
    """The Services of the app serving the current request."""
    return current_app.extensions["gridcommand"]


def caller() -> Principal:
    """Who is calling a view that ``@require`` guards (so never anonymous there; 401 if it somehow is)."""
    p = resolve_principal(services())
    if p is None:
        raise ApiError(401, "sign in or send an API key")
    return p
