"""A production-like world for the security tests: demo off, every role with a key, two communities."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.factories import grid_center, make_district

# the people whose raw data must never reach a screen unmasked
CITIZENS = {"A": ("王小明", "13700001111", "110101199003071234"), "B": ("赵大海", "13600002222", "610102198512124321")}
ROLE_NAMES = ["admin", "dispatcher", "dispatcher_a", "leader", "worker", "integration", "display"]


class World:
    """The app, services, ids and one API key per role name."""

    def __init__(self, app, services, ids: dict, keys: dict[str, str]) -> None:
        self.app, self.services, self.ids, self.keys = app, services, ids, keys

    def client(self, role: str | None):
        """A test client that speaks as ``role`` (None = anonymous) through its API key."""
        c = self.app.test_client()
        if role:
            c.environ_base["HTTP_X_API_KEY"] = self.keys[role]
        return c


def build_world(tmp: Path, *, with_pages: bool = True, extra: dict | None = None) -> World:
    from dashboard.app import create_app
    from dashboard.config import Settings
    from dashboard.db import migrate
    from dashboard.services.apikeys import create_api_key
    from dashboard.services.cases import CaseReport, report_case

    settings = Settings.from_env({}, db_url=f"sqlite:///{tmp / 'sec.db'}", data_dir=tmp / "var", simulate=False,
                                 demo=False).with_(extra={"GC_RATE_LOGIN": "off", "GC_RATE_OPEN311": "off",
                                                          **(extra or {})})
    app, services = create_app(settings)
    migrate(services.db.engine)
    with services.db.write() as s:
        d = make_district(s)
        a, b = d["communities"]
        ids = {"community_a": a.id, "community_b": b.id, "worker_a": d["workers"][0].id,
               "worker_b": d["workers"][1].id, "grid_a": d["grids"][0].id, "grid_b": d["grids"][4].id}
    services.reload_grids()
    with services.db.write() as s:
        from dashboard.models import Grid

        for tag, gid in (("A", ids["grid_a"]), ("B", ids["grid_b"])):
            lat, lon = grid_center(s.get(Grid, gid))
            name, phone, idno = CITIZENS[tag]
            c, _ = report_case(s, CaseReport(category_code="0601", description=f"来电 {phone} 身份证 {idno}",
                                             lat=lat, lon=lon, source="hotline", reporter_name=name,
                                             reporter_phone=phone), locator=services.locator)
            s.flush()
            ids[f"case_{tag.lower()}"] = c.id
        keys = {}
        for role_name in ROLE_NAMES:
            role = "dispatcher" if role_name == "dispatcher_a" else role_name
            comm = ids["community_a"] if role_name == "dispatcher_a" else None
            wid = ids["worker_a"] if role == "worker" else None
            _, keys[role_name] = create_api_key(s, name=f"test-{role_name}", role=role, community_id=comm,
                                                worker_id=wid)
    if with_pages:
        from callbacks import register_all
        from layouts.app import create_dash

        register_all(create_dash(app, services), services)
    return World(app, services, ids, keys)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("secworld"))
    yield w
    w.services.shutdown()
