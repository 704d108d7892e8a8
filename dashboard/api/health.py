"""/healthz: is the server up and can it reach its database."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from ..events import last_seq
from ..models import Grid, Worker
from ..timeutil import iso, utcnow
from .deps import services
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        with services().db.read() as s:
            grids = s.scalar(select(func.count()).select_from(Grid))
            workers = s.scalar(select(func.count()).select_from(Worker))
            seq = last_seq(s)
        db_ok = True
    except Exception as exc:  # the point of a health check is to say so, not to crash
        return jsonify({"status": "error", "db": "unreachable", "message": str(exc).splitlines()[0],
                        "time": iso(utcnow())}), 503
    return jsonify({"status": "ok", "db": "ok" if db_ok else "error",
                    "backend": services().db.engine.dialect.name, "grids": grids, "workers": workers,
                    "last_seq": seq, "simulator": services().simulator is not None, "time": iso(utcnow())})


def register(app, services) -> None:
    app.register_blueprint(bp)
