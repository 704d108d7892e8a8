"""A production-like world for the security tests: demo off, every role with a key, two communities."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import migrated_sqlite
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

    settings = Settings.from_env({}, db_url=migrated_sqlite(tmp / "sec.db"), data_dir=tmp / "var", simulate=False,
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
        add_records_of_every_kind(s, services, ids)
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


# worker B's last fix: a value no other record holds, so a walk over any answer can spot B's position
POSITION_B = (34.263777, 108.953777)
POSITION_A = (34.261333, 108.950666)


def add_records_of_every_kind(s, services, ids: dict) -> None:
    """Give each community one record of every kind an endpoint lists: a worker on patrol with a fix, an
    alert, a camera, a device, a tour with a logged stop, a video call, a governance activity — and a
    pair of same-category cases 9 m apart across the A/B border (duplicates of each other).

    Records of A fill the path ids of A's jurisdiction checks; records of B are what A must never receive.
    """
    from dashboard.models import AccessDevice, Camera, Department, Grid, Worker
    from dashboard.models.residents import Notice, NoticeRead, Visit
    from dashboard.services import tours
    from dashboard.services.alerts import raise_alert
    from dashboard.services.calls import end_call, start_call
    from dashboard.services.cases import CaseReport, report_case
    from dashboard.services.governance import create_activity
    from dashboard.services.positions import Fix, ingest_fixes
    from dashboard.services.workers import start_patrol
    from datetime import timedelta

    from dashboard.timeutil import utcnow

    now = utcnow()
    for tag, (lat, lon) in (("A", POSITION_A), ("B", POSITION_B)):
        t = tag.lower()
        grid = s.get(Grid, ids[f"grid_{t}"])
        w = s.get(Worker, ids[f"worker_{t}"])
        start_patrol(s, w)
        ingest_fixes(s, [Fix(worker_id=w.id, fix_time=now, lat=lat, lon=lon, source="api")],
                     locator=services.locator)
        a, _ = raise_alert(s, source="rule", kind="probe", title=f"告警{tag}", lat=lat, lon=lon, grid_id=grid.id,
                           community_id=grid.community_id, worker_id=w.id)
        cam = Camera(code=f"CAM-{tag}", name=f"摄像头{tag}", grid_id=grid.id, lat=lat, lon=lon, kind="fixed",
                     stream_url=f"sim://CAM-{tag}")
        dev = AccessDevice(device_id=f"GATE-{tag}", name=f"门禁{tag}", secret="x" * 32, grid_id=grid.id,
                           community_id=grid.community_id, lat=lat, lon=lon)
        s.add_all([cam, dev])
        s.flush()
        tour = tours.create_tour(s, name=f"巡查{tag}", stops=[{"grid_id": grid.id}], created_by="test")
        tours.start_tour(s, tour, operator="test")
        tours.mark_stop(s, tour, 0, result="ok", operator="test", locator=services.locator)
        call = start_call(s, operator="test", worker_id=w.id, caller_sid=f"sid-{tag}", case_id=ids[f"case_{t}"])
        end_call(s, call, by="operator")
        act = create_activity(s, {"kind": "mediation", "title": f"调解{tag}", "grid_id": grid.id,
                                  "started_at": now, "participants": 3}, source="api", created_by="test")
        photo = _photo(s, services, ids[f"case_{t}"])
        dept = Department(name=f"部门{tag}", contact=f"029-0000000{len(tag)}", categories=["0101"],
                          community_id=grid.community_id)
        s.add(dept)
        s.flush()
        notice = Notice(scope="community", community_id=grid.community_id, grid_ids=[], title=f"通知{tag}",
                        body="停水", urgent=tag == "A", valid_until=now + timedelta(days=3), author="test",
                        created_at=now)  # a community's notice (issue 31), opened once on its grid's page
        s.add(notice)
        s.flush()
        s.add(NoticeRead(notice_id=notice.id, grid_id=grid.id, reads=1, last_read_at=now))
        ids[f"notice_{t}"] = notice.id
        visit = Visit(worker_id=w.id, grid_id=grid.id, community_id=grid.community_id, whom=f"住户{tag}",
                      needs="加装扶手", follow_up="联系物业", at=now)  # a worker's visit (走访, issue 31)
        s.add(visit)
        s.flush()
        ids[f"visit_{t}"] = visit.id
        ids.update({f"department_{t}": dept.id, f"photo_{t}": photo.id, f"alert_{t}": a.id, f"camera_{t}": cam.id, f"device_{t}": dev.id, f"tour_{t}": tour.id,
                    f"call_{t}": call.id, f"activity_{t}": act.id})
    for tag, lon in (("A", 108.95195), ("B", 108.95205)):  # grid G00 (A) ends at 108.952, G01 (B) starts there
        c, _ = report_case(s, CaseReport(category_code="0101", description=f"边界垃圾{tag}", lat=34.2610, lon=lon,
                                         source="app"), locator=services.locator)
        s.flush()
        ids[f"border_case_{tag.lower()}"] = c.id


def _photo(s, services, case_id: int):
    """One stored photo of a case (a small JPEG)."""
    import io

    from PIL import Image

    from dashboard.models import Case
    from dashboard.services import photos

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 120, 150)).save(buf, "JPEG")
    buf.seek(0)
    stored = photos.store_upload(services.settings.uploads_dir, buf)
    (photo,) = photos.attach(s, services.settings.uploads_dir, s.get(Case, case_id), [stored.token], stage="before")
    return photo


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("secworld"))
    yield w
    w.services.shutdown()
