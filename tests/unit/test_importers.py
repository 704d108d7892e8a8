"""import-grids (GeoJSON, GeoPackage, Shapefile) and import-workers (CSV, Excel): results, reprojection, errors."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon, box, shape
from sqlalchemy import select

from dashboard.models import Community, Grid, Worker
from dashboard.services.importers import ImportProblem, import_grids, import_workers

LON0, LAT0, D = 108.95, 34.26, 0.002


def _grids_gdf(n: int = 4) -> gpd.GeoDataFrame:
    rows = [{"code": f"T{i:02d}", "name": f"测试网格{i}", "community_code": "C1" if i < 2 else "C2",
             "geometry": box(LON0 + i * D, LAT0, LON0 + (i + 1) * D, LAT0 + D)} for i in range(n)]
    return gpd.GeoDataFrame(rows, crs=4326)


def _write(gdf: gpd.GeoDataFrame, path, driver: str | None = None):
    gdf.to_file(path, driver=driver) if driver else gdf.to_file(path)
    return path


@pytest.fixture
def svc(app_services):
    return app_services[1]


def _import(svc, path):
    with svc.db.write() as s:
        return import_grids(s, path)


def _grids(svc) -> dict[str, Grid]:
    with svc.db.read() as s:
        out = {g.code: g for g in s.scalars(select(Grid))}
        for g in out.values():
            s.expunge(g)
        return out


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")
@pytest.mark.parametrize("ext,driver", [("geojson", "GeoJSON"), ("gpkg", "GPKG"), ("shp", "ESRI Shapefile")])
def test_import_grids_each_format(svc, tmp_path, ext, driver):
    path = _write(_grids_gdf(), tmp_path / f"grids.{ext}", driver)
    assert _import(svc, path) == {"created": 4, "updated": 0}
    grids = _grids(svc)
    assert sorted(grids) == ["T00", "T01", "T02", "T03"]
    g = grids["T02"]
    assert g.name == "测试网格2"
    expected = box(LON0 + 2 * D, LAT0, LON0 + 3 * D, LAT0 + D).normalize()
    assert shape(g.boundary).normalize().equals_exact(expected, 1e-9)  # Shapefile may reverse the ring
    assert g.centroid_lat == pytest.approx(LAT0 + D / 2)
    assert g.area_m2 == pytest.approx(185 * 222, rel=0.03)  # 0.002° × 0.002° at 34°N
    with svc.db.read() as s:
        comms = {c.code: c.id for c in s.scalars(select(Community))}
    assert set(comms) == {"C1", "C2"} and g.community_id == comms["C2"]


def test_reprojection_from_web_mercator(svc, tmp_path):
    gdf = _grids_gdf().to_crs(3857)
    assert gdf.total_bounds[0] > 1e6  # metres, not degrees
    _import(svc, _write(gdf, tmp_path / "merc.geojson", "GeoJSON"))
    g = _grids(svc)["T01"]
    minx, miny, maxx, maxy = shape(g.boundary).bounds
    assert (minx, miny, maxx, maxy) == pytest.approx((LON0 + D, LAT0, LON0 + 2 * D, LAT0 + D), abs=1e-7)


def test_reimport_upserts(svc, tmp_path):
    _import(svc, _write(_grids_gdf(), tmp_path / "a.geojson", "GeoJSON"))
    gdf = _grids_gdf(5)
    gdf.loc[0, "name"] = "改名网格"
    assert _import(svc, _write(gdf, tmp_path / "b.geojson", "GeoJSON")) == {"created": 1, "updated": 4}
    grids = _grids(svc)
    assert len(grids) == 5 and grids["T00"].name == "改名网格"


def _problem(svc, path) -> str:
    with pytest.raises(ImportProblem) as e:
        _import(svc, path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    with svc.db.read() as s:
        assert s.scalars(select(Grid)).first() is None  # nothing imported
    return msg


def test_bad_grid_files_give_one_line_naming_file_feature_field(svc, tmp_path):
    msg = _problem(svc, _write(_grids_gdf().drop(columns=["community_code"]), tmp_path / "m.geojson", "GeoJSON"))
    assert "community_code" in msg and "missing" in msg

    gdf = _grids_gdf()
    gdf.loc[2, "geometry"] = Polygon([(LON0, LAT0), (LON0 + D, LAT0 + D), (LON0 + D, LAT0), (LON0, LAT0 + D)])
    msg = _problem(svc, _write(gdf, tmp_path / "bowtie.geojson", "GeoJSON"))
    assert "feature 2" in msg and "T02" in msg and "invalid polygon" in msg

    gdf = _grids_gdf()
    gdf.loc[3, "code"] = "T01"
    msg = _problem(svc, _write(gdf, tmp_path / "dup.geojson", "GeoJSON"))
    assert "duplicate" in msg and "T01" in msg

    gdf = _grids_gdf()
    gdf.loc[1, "geometry"] = LineString([(LON0, LAT0), (LON0 + D, LAT0 + D)])
    msg = _problem(svc, _write(gdf, tmp_path / "line.geojson", "GeoJSON"))
    assert "feature 1" in msg and "Polygon" in msg and "LineString" in msg

    junk = tmp_path / "junk.geojson"
    junk.write_text("{this is not json")
    assert "cannot read" in _problem(svc, junk)
    assert "not found" in _problem(svc, tmp_path / "nope.gpkg")


# -- workers ------------------------------------------------------------------

WORKERS = pd.DataFrame([
    {"worker_code": "W001", "name": "王小明", "phone": "13800000001", "device_id": "D001", "grid_code": "T00",
     "role": "专职网格员", "shift": "day"},
    {"worker_code": "W002", "name": "赵丽", "phone": "13800000002", "device_id": "D002", "grid_code": "T01",
     "role": "专职网格员", "shift": "night"},
    {"worker_code": "W003", "name": "孙强", "phone": "13800000003", "device_id": "", "grid_code": "T02",
     "role": "兼职网格员", "shift": "evening"},
])


@pytest.fixture
def with_grids(svc, tmp_path):
    _import(svc, _write(_grids_gdf(), tmp_path / "g.geojson", "GeoJSON"))
    return svc


def _import_w(svc, path):
    with svc.db.write() as s:
        return import_workers(s, path)


def _workers(svc) -> dict[str, tuple]:
    with svc.db.read() as s:
        grid_code = dict(s.execute(select(Grid.id, Grid.code)).all())
        return {w.code: (w.name, w.phone, w.device_id, grid_code[w.grid_id], w.shift) for w in s.scalars(select(Worker))}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_workers_csv_and_excel(with_grids, tmp_path, fmt):
    path = tmp_path / f"w.{fmt}"
    WORKERS.to_csv(path, index=False) if fmt == "csv" else WORKERS.to_excel(path, index=False)
    assert _import_w(with_grids, path) == {"created": 3, "updated": 0}
    got = _workers(with_grids)
    assert got["W001"] == ("王小明", "13800000001", "D001", "T00", "day")
    assert got["W002"][4] == "night"
    assert got["W003"][2] is None  # no device: stored as NULL, not ""


def test_reimport_workers_upserts(with_grids, tmp_path):
    path = tmp_path / "w.csv"
    WORKERS.to_csv(path, index=False)
    _import_w(with_grids, path)
    df = WORKERS.copy()
    df.loc[0, "grid_code"] = "T03"
    df.loc[1, "phone"] = "13999999999"
    df = pd.concat([df, pd.DataFrame([{**WORKERS.iloc[0].to_dict(), "worker_code": "W004", "device_id": "D004"}])])
    df.to_csv(path, index=False)
    assert _import_w(with_grids, path) == {"created": 1, "updated": 3}
    got = _workers(with_grids)
    assert len(got) == 4 and got["W001"][3] == "T03" and got["W002"][1] == "13999999999"


def _w_problem(svc, df: pd.DataFrame, tmp_path) -> str:
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ImportProblem) as e:
        _import_w(svc, path)
    with svc.db.read() as s:
        assert s.scalars(select(Worker)).first() is None
    msg = str(e.value)
    assert str(path) in msg
    return msg


def test_worker_errors(with_grids, tmp_path):
    df = WORKERS.copy()
    df.loc[1, "grid_code"] = "XX9"
    msg = _w_problem(with_grids, df, tmp_path)
    assert "line 3" in msg and "XX9" in msg and "grid_code" in msg

    df = WORKERS.copy()
    df.loc[2, "device_id"] = "D001"
    msg = _w_problem(with_grids, df, tmp_path)
    assert "device_id" in msg and "D001" in msg

    msg = _w_problem(with_grids, WORKERS.drop(columns=["phone"]), tmp_path)
    assert "missing" in msg and "phone" in msg

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not an excel file")
    with pytest.raises(ImportProblem, match="cannot read as Excel"):
        _import_w(with_grids, bad)
