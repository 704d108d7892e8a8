"""The big-screen wall (/wall) and the bench-only polling variant (/wall-poll)."""
from . import poll
from .layout import layout

__all__ = ["layout", "poll"]
