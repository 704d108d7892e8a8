"""Loading reference data: the demo street, and a center's own grids and workers."""
from __future__ import annotations

import io
import json
import logging
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Sequence

import geopandas as gpd
import shapely
import pandas as pd
from shapely.geometry import mapping
from shapely.validation import explain_validity
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (Camera, Category, Community, Contact, Grid, Organisation, Place, ResidentCount, Street,
                      Worker, WorkerGrid)

log = logging.getLogger(__name__)


class ImportProblem(ValueError):
    """A file that cannot be imported; the message says which file, row and field."""


class TableTooLarge(ImportProblem):
    """A table refused for its size before it was read (an upload answers 413)."""


# An .xlsx is a zip: 369 KB of it unpacked to 84 MB of sheet XML and took ~100 s of CPU to parse. These are
# checked from the zip's directory before anything is unpacked (zipfile then stops at the sizes it declares).
MAX_XLSX_UNPACKED = 50 * 1024 * 1024   # bytes, all members together
MAX_XLSX_RATIO = 100                    # unpacked / packed; real workbooks stay under ~20
MAX_TABLE_ROWS = 20_000                 # data rows in one imported table (CSV or Excel)
# A grid file: a city has ~10,000 grids of a few hundred vertices; these stop a crafted file (or a zipped
# Shapefile that unpacks to gigabytes) from holding the importer for minutes.
MAX_GRID_FEATURES = 20_000
MAX_GRID_VERTICES = 5_000_000           # all polygons' coordinates together


def _check_zip(content: bytes, name: str, what: str = "the workbook") -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            items = z.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ImportProblem(f"{name}: cannot read as Excel: not an .xlsx file ({exc})" if what == "the workbook"
                            else f"{name}: not a zip file ({exc})")
    unpacked = sum(i.file_size for i in items)
    packed = sum(i.compress_size for i in items) or 1
    if unpacked > MAX_XLSX_UNPACKED:
        raise TableTooLarge(f"{name}: {what} unpacks to {unpacked:,} bytes; at most {MAX_XLSX_UNPACKED:,}")
    if unpacked > 1024 * 1024 and unpacked / packed > MAX_XLSX_RATIO:
        raise TableTooLarge(f"{name}: {what}'s compression ratio {unpacked / packed:.0f}:1 is above "
                            f"{MAX_XLSX_RATIO}:1 (a zip bomb?)")


def _cell_text(v: Any) -> str:
    """A cell as the text pandas' ``dtype=str`` gave (2 not 2.0, times as 2026-11-20 09:30:00)."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (datetime, date, time)):
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    return str(v)


def _missing(header: Sequence[str], required: Sequence[str] | None, name: str) -> None:
    missing = [c for c in (required or ()) if c not in header]
    if missing:
        raise ImportProblem(f"{name}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, header))}")


def read_xlsx(content: bytes, name: str, required: Sequence[str] | None = None, *,
              max_rows: int | None = MAX_TABLE_ROWS) -> pd.DataFrame:
    """The first sheet of an .xlsx as strings: the zip's size and ratio, then the header row, then the rows
    (streamed by openpyxl's read-only mode, at most ``max_rows``); raises ImportProblem / TableTooLarge."""
    from openpyxl import load_workbook

    _check_zip(content, name)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds; the user needs one line
        raise ImportProblem(f"{name}: cannot read as Excel: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # the file's own <dimension> may understate its rows: read what is there
        rows = ws.iter_rows(values_only=True)
        header = [_cell_text(v).strip() for v in next(rows, ())]
        while header and header[-1] == "":
            header.pop()
        _missing(header, required, name)
        data: list[list[str]] = []
        for row in rows:
            cells = [_cell_text(v) for v in row[:len(header)]]
            if not any(cells):
                continue  # blank rows (and formatted-but-empty ones) are no data
            if max_rows is not None and len(data) >= max_rows:
                raise TableTooLarge(f"{name}: more than {max_rows:,} rows; split the table")
            data.append(cells + [""] * (len(header) - len(cells)))
    except ImportProblem:
        raise
    except Exception as exc:
        raise ImportProblem(f"{name}: cannot read as Excel: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    finally:
        wb.close()
    return pd.DataFrame(data, columns=header, dtype=str)


def read_csv_table(content: bytes, name: str, required: Sequence[str] | None = None, *,
                   max_rows: int | None = MAX_TABLE_ROWS) -> pd.DataFrame:
    """A UTF-8 CSV (BOM or not) as strings: the header row is checked before the rows are parsed."""
    try:
        header = pd.read_csv(io.BytesIO(content), dtype=str, nrows=0, encoding="utf-8-sig").columns
        _missing([str(c).strip() for c in header], required, name)
        df = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         nrows=None if max_rows is None else max_rows + 1)
    except ImportProblem:
        raise
    except Exception as exc:  # pandas raises many kinds; the user needs one line
        raise ImportProblem(f"{name}: cannot read as CSV: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    if max_rows is not None and len(df) > max_rows:
        raise TableTooLarge(f"{name}: more than {max_rows:,} rows; split the table")
    return df


def read_table(content: bytes, name: str, required: Sequence[str] | None = None, *,
               max_rows: int | None = MAX_TABLE_ROWS) -> pd.DataFrame:
    """An uploaded or local table (.xlsx, else CSV) as strings, checked for size and header before its rows."""
    suffix = Path(name or "").suffix.lower()
    if suffix == ".xls":
        raise ImportProblem(f"{name}: cannot read as Excel: the old .xls format is not read; save as .xlsx")
    if suffix == ".xlsx" or content[:4] == b"PK\x03\x04":
        return read_xlsx(content, name, required, max_rows=max_rows)
    return read_csv_table(content, name, required, max_rows=max_rows)


def _read_table(path: Path, required: Sequence[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        raise ImportProblem(f"{path}: file not found")
    return read_table(path.read_bytes(), str(path), required, max_rows=None)  # the operator's own file: no row cap


def _need(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ImportProblem(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")


def _read_geo(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise ImportProblem(f"{path}: file not found")
    if path.suffix.lower() == ".zip":  # a zipped Shapefile: its directory's sizes before anything unpacks
        _check_zip(path.read_bytes(), str(path), "the zip file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise ImportProblem(f"{path}: cannot read as GeoJSON/GeoPackage/Shapefile: {exc}")
    if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        gdf = gdf.to_crs(4326)  # store WGS-84 (CGCS2000 equals it at our accuracy)
    return gdf


def _area_m2(gdf: gpd.GeoDataFrame) -> list[float]:
    g = gdf.set_crs(4326, allow_override=True)
    return list(g.to_crs(g.estimate_utm_crs()).area)


def _street(session: Session, code: str | None = None, name: str | None = None) -> Street:
    street = session.scalar(select(Street).where(Street.code == code)) if code else session.scalar(select(Street))
    if street is None:
        street = Street(code=code or "000000000", name=name or "街道")
        session.add(street)
        session.flush()
    return street


SHAPEFILE_ALIASES = {"community_": "community_code", "comm_code": "community_code", "comm_name": "community_name"}


def read_grid_file(path: str | Path) -> gpd.GeoDataFrame:
    """A grid file read and checked (sizes, columns, geometries) without touching the database: the importer's
    write transaction then only writes."""
    path = Path(path)
    gdf = _read_geo(path)
    if len(gdf) > MAX_GRID_FEATURES:
        raise ImportProblem(f"{path}: {len(gdf):,} features; at most {MAX_GRID_FEATURES:,} grids a file")
    vertices = int(shapely.get_num_coordinates(gdf.geometry.values).sum()) if len(gdf) else 0
    if vertices > MAX_GRID_VERTICES:
        raise ImportProblem(f"{path}: {vertices:,} vertices; at most {MAX_GRID_VERTICES:,} in a grid file")
    # Shapefile (DBF) field names hold at most 10 characters: community_code arrives as community_
    gdf = gdf.rename(columns={k: v for k, v in SHAPEFILE_ALIASES.items()
                              if k in gdf.columns and v not in gdf.columns})
    _need(gdf, path, ["code", "name", "community_code"])
    for i, row in gdf.iterrows():
        geom = row.geometry
        label = f"{path}: feature {i} (code {row['code']!r})"
        if geom is None or geom.is_empty:
            raise ImportProblem(f"{label}: no geometry")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ImportProblem(f"{label}: geometry must be a Polygon, got {geom.geom_type}")
        if not geom.is_valid:
            raise ImportProblem(f"{label}: invalid polygon: {explain_validity(geom)}")
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ImportProblem(f"{label}: coordinates are not longitude/latitude degrees (bounds {geom.bounds})")
        if not str(row["code"]).strip():
            raise ImportProblem(f"{path}: feature {i}: empty code")
    dup = gdf["code"][gdf["code"].duplicated()].tolist()
    if dup:
        raise ImportProblem(f"{path}: duplicate grid code(s) {', '.join(map(str, dup[:5]))}")
    return gdf


def import_grids(session: Session, path: str | Path | gpd.GeoDataFrame, *,
                 street_code: str | None = None) -> dict[str, int]:
    """Upsert grids from GeoJSON/GeoPackage/Shapefile (properties code, name, community_code), or from a frame
    read_grid_file gave."""
    gdf = path if isinstance(path, gpd.GeoDataFrame) else read_grid_file(path)
    street = _street(session, street_code)
    communities = {c.code: c for c in session.scalars(select(Community))}
    grids = {g.code: g for g in session.scalars(select(Grid))}
    areas = _area_m2(gdf)
    created = updated = 0
    for (_, row), area in zip(gdf.iterrows(), areas):
        ccode = str(row["community_code"])
        comm = communities.get(ccode)
        if comm is None:
            cname = str(row.get("community_name") or ccode)
            comm = Community(code=ccode, name=cname, street_id=street.id)
            session.add(comm)
            session.flush()
            communities[ccode] = comm
        geom = row.geometry
        c = geom.centroid if geom.geom_type == "Polygon" else geom.representative_point()
        values = dict(name=str(row["name"]), community_id=comm.id, boundary=mapping(geom),
                      centroid_lat=c.y, centroid_lon=c.x, area_m2=float(area),
                      level=int(row["level"]) if "level" in gdf.columns and str(row["level"]).isdigit() else 3)
        g = grids.get(str(row["code"]))
        if g is None:
            session.add(Grid(code=str(row["code"]), **values))
            created += 1
        else:
            for k, v in values.items():
                setattr(g, k, _jsonable(v))
            updated += 1
    session.flush()
    return {"created": created, "updated": updated}


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v)) if isinstance(v, dict) else v


WORKER_COLUMNS = ["worker_code", "name", "phone", "device_id", "grid_code"]


def import_workers(session: Session, path: str | Path) -> dict[str, int]:
    """Upsert grid workers from CSV/Excel (worker_code, name, phone, device_id, grid_code[, grid_codes, role, shift])."""
    path = Path(path)
    df = _read_table(path, WORKER_COLUMNS)
    _need(df, path, WORKER_COLUMNS)
    grids = dict(session.execute(select(Grid.code, Grid.id)).all())
    problems = []
    for i, row in df.iterrows():
        line = i + 2  # header is line 1
        if not row["worker_code"].strip():
            problems.append(f"line {line}: worker_code is empty")
        if not row["name"].strip():
            problems.append(f"line {line}: name is empty")
        if row["grid_code"] not in grids:
            problems.append(f"line {line}: grid_code {row['grid_code']!r} is not a known grid")
        for extra in filter(None, str(row.get("grid_codes", "")).split(";")):
            if extra not in grids:
                problems.append(f"line {line}: grid_codes has unknown grid {extra!r}")
        if row.get("shift", "day") not in ("", "day", "evening", "night"):
            problems.append(f"line {line}: shift must be day, evening or night")
    for col in ("worker_code", "device_id"):
        vals = df[col][df[col] != ""]
        for v in vals[vals.duplicated()].unique()[:5]:
            problems.append(f"{col} {v!r} appears more than once")
    if problems:
        raise ImportProblem(f"{path}: " + "; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))
    existing = {w.code: w for w in session.scalars(select(Worker))}
    created = updated = 0
    for _, row in df.iterrows():
        home = grids[row["grid_code"]]
        gids = [home] + [grids[c] for c in str(row.get("grid_codes", "")).split(";") if c and grids[c] != home]
        w = existing.get(row["worker_code"])
        if w is None:
            w = Worker(code=row["worker_code"])
            session.add(w)
            created += 1
        else:
            updated += 1
        w.name, w.phone, w.device_id, w.grid_id = row["name"], row["phone"], row["device_id"] or None, home
        w.role = row.get("role") or w.role or "专职网格员"
        w.shift = row.get("shift") or "day"
        w.grids = [WorkerGrid(grid_id=g, primary=(g == home)) for g in dict.fromkeys(gids)]
    session.flush()
    return {"created": created, "updated": updated}


CATEGORY_COLUMNS = ["major_code", "major_name", "minor_code", "minor_name", "time_limit_hours"]


def import_categories(session: Session, path: str | Path) -> int:
    """Upsert the two-level category catalogue with time limits."""
    path = Path(path)
    df = _read_table(path, CATEGORY_COLUMNS)
    _need(df, path, CATEGORY_COLUMNS)
    existing = {c.code: c for c in session.scalars(select(Category))}
    for _, r in df.iterrows():
        c = existing.get(r["minor_code"]) or Category(code=r["minor_code"])
        c.name, c.major_code, c.major_name = r["minor_name"], r["major_code"], r["major_name"]
        c.time_limit_hours = float(r["time_limit_hours"])
        c.default_priority = int(r.get("default_priority") or 3)
        c.weight = float(r.get("weight") or 1)
        c.onsite_share = float(r.get("onsite_share") or 0.6)
        c.keywords = r.get("keywords", "")
        clock = str(r.get("clock") or "working").strip()
        if clock not in ("natural", "working"):
            raise ValueError(f"{path}: clock must be natural or working, got {clock!r} for {r['minor_code']}")
        c.clock = clock
        session.add(c)
    session.flush()
    return len(df)


def import_departments(session: Session, path: str | Path) -> int:
    """Upsert the departments cases are routed to (name, contact, categories as codes separated by ';')."""
    from ..models.department import Department

    path = Path(path)
    df = _read_table(path, ["name", "contact", "categories"])
    _need(df, path, ["name", "contact", "categories"])
    existing = {d.name: d for d in session.scalars(select(Department))}
    known = set(session.scalars(select(Category.code)))
    for _, r in df.iterrows():
        codes = [c.strip() for c in str(r["categories"] or "").split(";") if c.strip()]
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValueError(f"{path}: department {r['name']!r} names unknown category {unknown[0]!r}")
        d = existing.get(r["name"]) or Department(name=r["name"])
        d.contact, d.categories = str(r["contact"] or ""), codes
        session.add(d)
    session.flush()
    return len(df)


def load_demo(session: Session, demo_dir: str | Path, *, end_on: date | None = None) -> dict[str, int]:
    """Load the demo street (or any folder in the same format) into an empty database; with ``end_on`` its
    dated history (the 五治 activities) is moved to end that day."""
    d = Path(demo_dir)
    street_gdf = _read_geo(d / "street.geojson")
    srow = street_gdf.iloc[0]
    street = _street(session, str(srow["code"]), str(srow["name"]))
    street.district, street.city = str(srow.get("district", "")), str(srow.get("city", ""))
    street.boundary = mapping(srow.geometry)
    comm_gdf = _read_geo(d / "communities.geojson")
    for _, r in comm_gdf.iterrows():
        session.add(Community(code=str(r["code"]), name=str(r["name"]), street_id=street.id,
                              boundary=mapping(r.geometry)))
    session.flush()
    import_grids(session, d / "grids.geojson", street_code=street.code)
    import_categories(session, d / "categories.csv")
    if (d / "departments.csv").exists():
        import_departments(session, d / "departments.csv")
    import_workers(session, d / "workers.csv")
    grids = dict(session.execute(select(Grid.code, Grid.id)).all())
    comms = dict(session.execute(select(Community.code, Community.id)).all())
    places = _read_table(d / "places.csv")
    place_ids: dict[str, int] = {}
    for kind_first in (True, False):  # parents (compounds) before children (buildings): one flush for each
        batch = [Place(code=r["place_code"], kind=r["kind"], name=r["name"], grid_id=grids[r["grid_code"]],
                       parent_id=place_ids.get(r["parent_code"]), lat=_f(r["lat"]), lon=_f(r["lon"]),
                       address=r.get("address", ""), households=_i(r.get("households")), floors=_i(r.get("floors")))
                 for r in places.to_dict("records") if bool(r["parent_code"]) != kind_first]
        session.add_all(batch)
        session.flush()
        place_ids.update((p.code, p.id) for p in batch)
    for r in _read_table(d / "cameras.csv").to_dict("records"):
        session.add(Camera(code=r["camera_code"], name=r["name"], grid_id=grids.get(r["grid_code"]),
                           lat=float(r["lat"]), lon=float(r["lon"]), kind=r.get("kind", ""),
                           stream_url=r.get("stream_url", "")))
    for r in _read_table(d / "organisations.csv").to_dict("records"):
        session.add(Organisation(code=r["org_code"], name=r["name"], kind=r.get("kind", ""),
                                 brand=r.get("brand", r.get("service_brand", "")),
                                 community_id=comms.get(r.get("community_code", "")),
                                 grid_id=grids.get(r.get("grid_code", "")), members=_i(r.get("members")) or 0,
                                 founded=r.get("founded") or None))
    for r in _read_table(d / "residents.csv").to_dict("records"):
        session.add(ResidentCount(grid_id=grids[r["grid_code"]], category=r["category"], count=int(r["count"])))
    for r in _read_table(d / "contacts.csv").to_dict("records"):
        session.add(Contact(level=r["level"], title=r["title"], name=r["name"], phone=r.get("phone", ""),
                            community_id=comms.get(r.get("community_code", "")),
                            grid_id=grids.get(r.get("grid_code", "")), place_id=place_ids.get(r.get("place_code", ""))))
    session.flush()
    from .governance_registers import load_governance_registers  # 网格+五治 registers, if the folder has them
    load_governance_registers(session, d, end_on=end_on)
    return {"grids": len(grids), "workers": session.query(Worker).count(), "places": len(place_ids)}


def _f(v: Any) -> float | None:
    return float(v) if v not in (None, "") else None


def _i(v: Any) -> int | None:
    return int(float(v)) if v not in (None, "") else None
