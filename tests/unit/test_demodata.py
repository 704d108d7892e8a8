"""The demo-street generator: deterministic, matches the committed files, sound geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from dashboard.demodata.generate import DEFAULT_SEED, generate

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "data" / "xiyilu"
FILES = [
    "street.geojson", "communities.geojson", "grids.geojson", "workers.csv", "contacts.csv",
    "places.csv", "cameras.csv", "organisations.csv", "residents.csv", "categories.csv", "departments.csv",
]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("xiyilu")
    generate(d, DEFAULT_SEED)
    return d


def load_geojson(path: Path) -> tuple[list[dict], list]:
    data = json.loads(path.read_text(encoding="utf-8"))
    feats = data["features"]
    return [f["properties"] for f in feats], [shape(f["geometry"]) for f in feats]


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def test_generation_is_deterministic(out: Path, tmp_path: Path) -> None:
    generate(tmp_path, DEFAULT_SEED)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_committed_files_match_generator(out: Path) -> None:
    for name in FILES:
        assert (COMMITTED / name).read_bytes() == (out / name).read_bytes(), (
            f"data/xiyilu/{name} differs from the generator output; rerun "
            "python -m dashboard.demodata.generate")
    assert sum((COMMITTED / n).stat().st_size for n in FILES) < 2_000_000


def test_files_are_utf8_without_bom(out: Path) -> None:
    for name in FILES:
        raw = (out / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        raw.decode("utf-8")


def test_grids_tile_the_street(out: Path) -> None:
    sprops, sgeoms = load_geojson(out / "street.geojson")
    assert len(sgeoms) == 1 and sprops[0]["code"] == "610102001"
    street = sgeoms[0]
    assert street.is_valid and street.geom_type == "Polygon"
    assert street.convex_hull.area == pytest.approx(street.area, rel=1e-12)
    minx, miny, maxx, maxy = street.bounds
    assert 108.94 < minx < maxx < 108.975 and 34.26 < miny < maxy < 34.28

    props, geoms = load_geojson(out / "grids.geojson")
    assert len(geoms) == 301
    arr = np.asarray(geoms, dtype=object)
    assert all(g.geom_type == "Polygon" for g in geoms)
    assert shapely.is_valid(arr).all()
    # convex: the simulator walks straight lines inside a grid
    hull = shapely.area(shapely.convex_hull(arr))
    assert np.all(hull - shapely.area(arr) <= 1e-9 * hull)

    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(arr[left[pairs]], arr[right[pairs]]))
    assert overlap.max() < 1e-12

    union = shapely.union_all(arr)
    assert union.geom_type == "Polygon" and not union.interiors
    assert abs(union.area - street.area) <= 1e-9 * street.area
    assert union.symmetric_difference(street).area <= 1e-9 * street.area
    assert abs(shapely.area(arr).sum() - street.area) <= 1e-9 * street.area

    codes = [p["code"] for p in props]
    assert len(set(codes)) == 301
    assert all(p["level"] == 3 and p["code"].startswith(p["community_code"]) for p in props)


def test_communities(out: Path) -> None:
    props, geoms = load_geojson(out / "communities.geojson")
    assert len(props) == 9
    assert [p["code"] for p in props] == [f"610102001{i:03d}" for i in range(1, 10)]
    for name in ["兴乐社区", "西一路社区", "皇城西路社区"]:
        assert name in {p["name"] for p in props}
    assert all(g.geom_type == "Polygon" and g.is_valid for g in geoms)
    gprops, ggeoms = load_geojson(out / "grids.geojson")
    for p, g in zip(props, geoms):
        mine = [gg for gp, gg in zip(gprops, ggeoms) if gp["community_code"] == p["code"]]
        assert 25 <= len(mine) <= 42
        assert abs(shapely.union_all(mine).area - g.area) <= 1e-9 * g.area


def test_workers(out: Path) -> None:
    w = read_csv(out / "workers.csv")
    gprops, _ = load_geojson(out / "grids.geojson")
    grid_codes = {p["code"] for p in gprops}
    assert list(w.columns) == ["worker_code", "name", "phone", "device_id", "grid_code", "role",
                               "shift"]
    assert len(w) == 490
    assert w["worker_code"].is_unique and w["device_id"].is_unique and w["phone"].is_unique
    assert w["device_id"].str.fullmatch(r"XY\d{6}").all()
    assert w["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert set(w["grid_code"]) == grid_codes  # every grid has a worker, no unknown grid
    per_grid = w["grid_code"].value_counts()
    assert (per_grid == 2).sum() == 189 and per_grid.max() == 2
    assert (w["role"] == "网格长").sum() == 9
    assert set(w["shift"]) <= {"day", "evening", "night"}


def _inside(df: pd.DataFrame, grids: dict) -> None:
    polys = np.asarray([grids[c] for c in df["grid_code"]], dtype=object)
    ok = shapely.contains_xy(polys, df["lon"].astype(float), df["lat"].astype(float))
    assert ok.all(), df[~ok].head()


def test_places_and_cameras_inside_their_grid(out: Path) -> None:
    gprops, ggeoms = load_geojson(out / "grids.geojson")
    grids = {p["code"]: g for p, g in zip(gprops, ggeoms)}
    places = read_csv(out / "places.csv")
    cams = read_csv(out / "cameras.csv")
    _inside(places, grids)
    _inside(cams, grids)
    assert places["place_code"].is_unique and cams["camera_code"].is_unique
    names = set(places.loc[places["kind"] == "compound", "name"])
    assert {"吉庆巷2号院", "皇城西路新华苑小区"} <= names
    counts = places["kind"].value_counts()
    assert counts["compound"] == 120 and counts["shop"] == 400 and counts["office"] == 15
    bld = places[places["kind"] == "building"]
    assert bld["parent_code"].isin(places.loc[places["kind"] == "compound", "place_code"]).all()
    assert len(cams) == 60 and cams["stream_url"].str.startswith("sim://").all()


def test_registers(out: Path) -> None:
    gcodes = {p["code"] for p in load_geojson(out / "grids.geojson")[0]}
    orgs = read_csv(out / "organisations.csv")
    assert len(orgs) == 24 and {"乐修匠", "菜鸟学堂"} <= set(orgs["brand"])
    res = read_csv(out / "residents.csv")
    assert set(res["grid_code"]) == gcodes
    total = res.loc[res["category"].isin(["户籍人口", "流动人口"]), "count"].astype(int).sum()
    assert 35_000 <= total <= 45_000
    contacts = read_csv(out / "contacts.csv")
    assert (contacts["level"] == "street").sum() == 1
    assert set(contacts.loc[contacts["level"] != "street", "grid_code"]) == gcodes
    assert {"street", "community", "compound", "building", "party_household"} == set(
        contacts["level"])
    cats = read_csv(out / "categories.csv")
    assert cats["minor_code"].is_unique and 30 <= len(cats) <= 40
    assert {"暴露垃圾", "消防通道堵塞", "电动车违规充电", "井盖缺失", "路灯损坏"} <= set(
        cats["minor_name"])
    assert set(cats["major_code"]) == {f"{i:02d}" for i in range(1, 9)}
