"""/console — the dispatcher's desk."""
from .layout import layout

__all__ = ["layout"]
