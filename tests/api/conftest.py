"""Fixtures for the HTTP API tests: a small district on each backend and API keys per role."""
from __future__ import annotations

import io

import pytest


@pytest.fixture
def district(app_services):
    """(app, services, world) with the 3×3 test district loaded; ``world`` holds plain ids."""
    from tests.utils.factories import make_district

    app, services = app_services
    with services.db.write() as s:
        w = make_district(s)
        world = {"grid_ids": [g.id for g in w["grids"]], "grid_codes": [g.code for g in w["grids"]],
                 "centers": [(g.centroid_lat, g.centroid_lon) for g in w["grids"]],
                 "worker_ids": [x.id for x in w["workers"]], "community_ids": [c.id for c in w["communities"]]}
    services.reload_grids()
    return app, services, world


def make_key(services, role: str, worker_id: int | None = None, community_id: int | None = None) -> str:
    from dashboard.services.apikeys import create_api_key

    with services.db.write() as s:
        _, key = create_api_key(s, name=f"test-{role}", role=role, worker_id=worker_id, community_id=community_id)
    return key


def jpeg_bytes(size: tuple[int, int] = (64, 48), color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()
