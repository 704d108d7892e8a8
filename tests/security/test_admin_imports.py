"""Admin edits and imports behind the admin page (issue 28): a worker's fields, a worker table planned row by row
before it is written (and written all or nothing), a grid file previewed before it replaces anything — and a
community admin kept to its community throughout."""
from __future__ import annotations

import io
import json

from openpyxl import Workbook
from sqlalchemy import select

from dashboard.models import AuditLog, Grid, Worker
from dashboard.services.apikeys import create_api_key

HEADER = "worker_code,name,phone,device_id,grid_code\n"


def _csv(text: str, name: str = "workers.csv"):
    return {"file": (io.BytesIO(text.encode("utf-8")), name)}


def _admin_a(world):
    with world.services.db.write() as s:
        _, key = create_api_key(s, name="admin-a-imports", role="admin", community_id=world.ids["community_a"])
    c = world.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    return c


def _worker(world, code: str) -> Worker | None:
    with world.services.db.read() as s:
        w = s.scalar(select(Worker).where(Worker.code == code))
        if w is not None:
            s.expunge(w)
        return w


def test_a_worker_table_is_planned_row_by_row_then_written(world):
    admin = world.client("admin")
    text = HEADER + ("W1,张三,13812345678,DEV1,G00\n"       # unchanged
                     "W2,李四丰,13900000000,DEV2,G11\n"      # phone changes
                     "W9,王五,13700000000,DEV9,G20\n")       # new
    r = admin.post("/api/v1/workers/import?dry_run=1", data=_csv(text), content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    assert plan["counts"] == {"create": 1, "update": 1, "unchanged": 1, "error": 0}
    rows = {row["code"]: row for row in plan["rows"]}
    assert rows["W2"]["action"] == "update" and rows["W2"]["changes"] == {"phone": ["13987654321", "13900000000"]}
    assert rows["W9"]["action"] == "create" and rows["W9"]["line"] == 4
    assert _worker(world, "W9") is None and _worker(world, "W2").phone == "13987654321"  # a dry run writes nothing
    r = admin.post("/api/v1/workers/import", data=_csv(text), content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["counts"]["create"] == 1
    with world.services.db.read() as s:
        assert s.get(Grid, _worker(world, "W9").grid_id).code == "G20"
    assert _worker(world, "W2").phone == "13900000000"
    with world.services.db.read() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "worker_import")).all()[-1]
        assert row.detail["create"] == 1 and "13900000000" not in json.dumps(row.detail)


def test_row_errors_name_line_and_column_and_nothing_is_written(world):
    admin = world.client("admin")
    text = HEADER + ("W20,,1,DEV20,G00\n"           # no name
                     "W21,赵六,1,DEV1,G00\n"         # W1's device
                     "W22,钱七,1,DEV22,NOPE\n"       # unknown grid
                     "W23,孙八,1,DEV23,G01\n")       # fine
    r = admin.post("/api/v1/workers/import", data=_csv(text), content_type="multipart/form-data")
    assert r.status_code == 422
    body = r.get_json()
    errs = {row["line"]: row["errors"][0]["field"] for row in body["rows"] if row["errors"]}
    assert errs == {2: "name", 3: "device_id", 4: "grid_code"}
    assert body["counts"]["error"] == 3 and body["counts"]["create"] == 1
    assert _worker(world, "W23") is None  # all or nothing
    # the same plan from an Excel file
    wb = Workbook()
    ws = wb.active
    for line in text.strip().splitlines():
        ws.append(line.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    r = admin.post("/api/v1/workers/import?dry_run=1", data={"file": (io.BytesIO(buf.getvalue()), "w.xlsx")},
                   content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["counts"]["error"] == 3
    # a file without the columns is a 400 naming the file
    r = admin.post("/api/v1/workers/import?dry_run=1", data=_csv("code,name\nx,y\n"),
                   content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "file"
    assert admin.post("/api/v1/workers/import?dry_run=maybe", data=_csv(text),
                      content_type="multipart/form-data").status_code == 400


def test_a_community_admin_imports_and_edits_only_in_its_community(world):
    a = _admin_a(world)
    text = HEADER + "W2,李四丰,1,DEV2,G11\nW30,周九,1,DEV30,G11\nW31,吴十,1,DEV31,G10\n"
    r = a.post("/api/v1/workers/import?dry_run=1", data=_csv(text), content_type="multipart/form-data")
    rows = {row["code"]: row for row in r.get_json()["rows"]}
    assert rows["W2"]["errors"][0]["field"] == "grid_code"  # B's grid
    assert rows["W30"]["errors"][0]["field"] == "grid_code"
    assert rows["W31"]["action"] == "create"  # its own grid
    # B's worker: as if unknown; its own worker: edited, but not into B's grid
    assert a.patch(f"/api/v1/workers/{world.ids['worker_b']}", json={"name": "x"}).status_code == 404
    r = a.patch(f"/api/v1/workers/{world.ids['worker_a']}", json={"grid_code": "G11"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "grid_code"
    r = a.patch(f"/api/v1/workers/{world.ids['worker_a']}", json={"shift": "night", "grid_code": "G10"})
    assert r.status_code == 200 and sorted(r.get_json()["changed"]) == ["grid_code", "shift"]
    assert _worker(world, "W1").shift == "night"
    # grids are the street's
    assert a.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(b"{}"), "g.geojson")},
                  content_type="multipart/form-data").status_code == 403


def test_a_worker_edit_refuses_bad_fields_naming_them(world):
    admin = world.client("admin")
    wid = world.ids["worker_a"]
    for body, field in (({"code": "X"}, "code"), ({"active": "yes"}, "active"), ({"shift": "noon"}, "shift"),
                        ({"name": ""}, "name"), ({"device_id": "DEV2"}, "device_id"), ({"phone": 5}, "phone")):
        r = admin.patch(f"/api/v1/workers/{wid}", json=body)
        assert r.status_code in (400, 422) and r.get_json()["error"]["field"] == field, (body, r.get_json())
    r = admin.patch(f"/api/v1/workers/{wid}", json={"active": False, "phone": "13800000001"})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert admin.patch(f"/api/v1/workers/{wid}", json={"active": True}).get_json()["changed"] == ["active"]


def test_a_workers_public_service_number_is_edited_and_imported_checked(world):
    """Worker.service_phone (what the residents' call button dials): digits, +, - and spaces, 3–20 characters; a 422
    naming service_phone otherwise; null clears it; an import without the column leaves it as it is."""
    admin = world.client("admin")
    wid = world.ids["worker_a"]
    for bad in ("call me", "12", "1" * 21, "029<script>", 7):
        r = admin.patch(f"/api/v1/workers/{wid}", json={"service_phone": bad})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "service_phone", (bad, r.get_json())
    r = admin.patch(f"/api/v1/workers/{wid}", json={"service_phone": "029-8888 1234"})
    assert r.status_code == 200 and r.get_json()["changed"] == ["service_phone"]
    with world.services.db.read() as s:
        w = s.get(Worker, wid)
        code, phone, grid = w.code, w.phone, s.get(Grid, w.grid_id).code
        assert w.service_phone == "029-8888 1234"
    listed = admin.get(f"/api/v1/workers?q={code}").get_json()["items"]
    assert [x["service_phone"] for x in listed if x["code"] == code] == ["029-8888 1234"]
    # an import without the column keeps the number; with it, a bad one is refused naming the column
    row = f"{code},张三,{phone},,{grid}\n"
    assert admin.post("/api/v1/workers/import", data=_csv(HEADER + row),
                      content_type="multipart/form-data").status_code in (200, 201)
    assert _worker(world, code).service_phone == "029-8888 1234"
    text = "worker_code,name,phone,device_id,grid_code,service_phone\n" + row.strip() + ",abc\n"
    r = admin.post("/api/v1/workers/import?dry_run=1", data=_csv(text), content_type="multipart/form-data")
    assert r.get_json()["rows"][0]["errors"][0]["field"] == "service_phone"
    text = "worker_code,name,phone,device_id,grid_code,service_phone\n" + row.strip() + ",12345\n"
    r = admin.post("/api/v1/workers/import", data=_csv(text), content_type="multipart/form-data")
    assert r.status_code == 201 and _worker(world, code).service_phone == "12345"
    assert admin.patch(f"/api/v1/workers/{wid}", json={"service_phone": None}).get_json()["changed"] \
        == ["service_phone"]
    assert _worker(world, code).service_phone is None


def _grid_file(codes_and_boxes) -> bytes:
    feats = []
    for code, (x0, y0, x1, y1), comm in codes_and_boxes:
        feats.append({"type": "Feature", "properties": {"code": code, "name": f"网格{code}", "community_code": comm},
                      "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                                       [x0, y0]]]}})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def test_a_grid_file_is_previewed_before_it_replaces_anything(world):
    admin = world.client("admin")
    with world.services.db.read() as s:
        g00 = s.scalar(select(Grid).where(Grid.code == "G00"))
        x0, y0 = g00.boundary["coordinates"][0][0]
        before = {g.code: g.boundary for g in s.scalars(select(Grid))}
    data = _grid_file([("G00", (x0, y0, x0 + 0.003, y0 + 0.003), "S1C1"),
                       ("NEW1", (x0 - 0.01, y0, x0 - 0.005, y0 + 0.003), "S1C1")])
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(data), "g.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    fc = r.get_json()
    assert {f["properties"]["code"]: f["properties"]["action"] for f in fc["features"]} == \
        {"G00": "update", "NEW1": "create"}
    assert fc["counts"] == {"created": 1, "updated": 1} and "G11" in fc["kept"] and fc["kept_count"] == len(before) - 1
    with world.services.db.read() as s:  # the preview changed nothing
        assert {g.code: g.boundary for g in s.scalars(select(Grid))} == before
    # a broken file is a 422 naming the file, in the upload's name (not a server path)
    bad = _grid_file([("B1", (x0, y0, x0, y0), "S1C1")])
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(bad), "bad.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "file" and "/tmp" not in r.get_json()["error"]["message"]
    assert admin.post("/api/v1/grids/import", data={"file": (io.BytesIO(data), "g.txt")},
                      content_type="multipart/form-data").status_code == 400
    # written: the grid moves and the new one exists; the locator knows it
    r = admin.post("/api/v1/grids/import", data={"file": (io.BytesIO(data), "g.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 201
    with world.services.db.read() as s:
        assert s.scalar(select(Grid).where(Grid.code == "NEW1")) is not None
    assert world.services.locator.locate(y0 + 0.0015, x0 - 0.0075) is not None


def test_a_large_table_s_answer_lists_errors_and_500_changes_and_counts_every_row(world):
    admin = world.client("admin")
    lines = [f"L{i:04d},人员{i},1,LDEV{i},G00" for i in range(600)] + ["L9999,,1,LDEV9999,G00"]
    r = admin.post("/api/v1/workers/import?dry_run=1", data=_csv(HEADER + "\n".join(lines) + "\n"),
                   content_type="multipart/form-data")
    body = r.get_json()
    assert body["counts"] == {"create": 600, "update": 0, "unchanged": 0, "error": 1}
    assert len(body["rows"]) == 501 and body["rows"][0]["line"] == 602 and body["rows"][0]["errors"]


def test_a_grid_file_too_big_to_be_a_street_is_refused_before_any_write(world, monkeypatch):
    """A zipped Shapefile that unpacks to far more than it weighs, or a file with more grids or vertices than a
    city has, is a 422 naming the file, read before the import takes the write turn (found round 3)."""
    import zipfile

    from dashboard.services import importers

    admin = world.client("admin")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("grids.shp", b"\0" * (60 * 1024 * 1024))  # 60 MB of zeros: ~60 KB packed
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(buf.getvalue()), "bomb.zip")},
                   content_type="multipart/form-data")
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["field"] == "file" and "bomb.zip" in err["message"] and "unpacks" in err["message"]

    with world.services.db.read() as s:
        x0, y0 = s.scalar(select(Grid).where(Grid.code == "G00")).boundary["coordinates"][0][0]
    data = _grid_file([(f"T{i}", (x0 + i * 1e-4, y0, x0 + i * 1e-4 + 5e-5, y0 + 5e-5), "S1C1") for i in range(4)])
    writes = []
    real_write = world.services.db.write
    monkeypatch.setattr(world.services.db, "write", lambda *a, **k: writes.append(1) or real_write(*a, **k))
    monkeypatch.setattr(importers, "MAX_GRID_FEATURES", 3)
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(data), "many.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "4 features" in r.get_json()["error"]["message"]
    assert writes == []  # refused while reading: the write turn was never taken
    monkeypatch.setattr(importers, "MAX_GRID_FEATURES", 20_000)
    monkeypatch.setattr(importers, "MAX_GRID_VERTICES", 19)
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(data), "dense.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "20 vertices" in r.get_json()["error"]["message"]
    monkeypatch.setattr(importers, "MAX_GRID_VERTICES", 5_000_000)
    r = admin.post("/api/v1/grids/import?dry_run=1", data={"file": (io.BytesIO(data), "fine.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 200 and writes == [1]
