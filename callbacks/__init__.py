"""Dash callbacks, one module per feature, each with ``register(app, services)``."""
from __future__ import annotations

from importlib import import_module

MODULES = [
    "callbacks.shell",
    "callbacks.briefing",
    "callbacks.console",
    "callbacks.patrol",
    "callbacks.wall",
    "callbacks.mobile",
    "callbacks.residents",
    "callbacks.governance",
]


def register_all(app, services) -> None:
    for name in MODULES:
        import_module(name).register(app, services)
