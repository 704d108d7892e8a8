"""Issue 25 item 3: expensive uploads. A spreadsheet's unpacked size and header row are checked before its rows
are read; an image's pixel count is checked before it is decoded (a JSON 413, never an HTML 500); staged photos
never attached to a case are deleted after a day."""
from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib
from datetime import timedelta

import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import select

from dashboard.models import CasePhoto
from dashboard.services import photos
from dashboard.timeutil import utcnow


# ---- images -------------------------------------------------------------------------------------------------
def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims ``width`` × ``height``: costless to send."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose IHDR claims ``width`` × ``height`` (CRC recomputed, so it opens)."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 0).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    return bytes(data)


@pytest.mark.parametrize("name,body", [("jpeg 20000x20000", lambda: _jpeg_claiming(20000, 20000)),
                                       ("jpeg 12000x12000", lambda: _jpeg_claiming(12000, 12000)),
                                       ("png 7000x7000", lambda: _png_claiming(7000, 7000))])
@pytest.mark.parametrize("url", ["/api/v1/photos", "case"])
def test_huge_image_is_a_json_413(world, name, body, url):
    if url == "case":
        url = f"/api/v1/cases/{world.ids['case_a']}/photos"
    with world.services.db.read() as s:
        before = s.query(CasePhoto).count()
    r = world.client("dispatcher").post(url, data={"photo": (io.BytesIO(body()), "big.jpg")},
                                        content_type="multipart/form-data")
    assert r.status_code == 413, (name, r.status_code, r.get_data(as_text=True)[:200])
    assert r.is_json and r.get_json()["error"]["field"] == "photo" and "pixels" in r.get_json()["error"]["message"]
    with world.services.db.read() as s:
        assert s.query(CasePhoto).count() == before


def test_pixel_cap_is_checked_before_decoding(tmp_path):
    # a header claiming 7000×7000 with no pixel data: refused from the header alone, at once
    t0 = time.perf_counter()
    with pytest.raises(photos.PhotoError) as exc:
        photos.store_upload(tmp_path, io.BytesIO(_png_claiming(7000, 7000)))
    assert exc.value.status == 413 and time.perf_counter() - t0 < 0.5
    assert photos.MAX_PIXELS < 7000 * 7000
    assert not any(tmp_path.rglob("*.jpg"))


def test_a_phone_photo_still_passes(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (2600, 1950), (10, 120, 60)).save(buf, "JPEG", quality=60)
    buf.seek(0)
    st = photos.store_upload(tmp_path, buf)
    assert (st.width, st.height) == (2048, 1536)
    with Image.open(tmp_path / st.path) as img:
        assert img.size == (2048, 1536)


def _stage(root, age: timedelta | None = None) -> photos.StoredPhoto:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    buf.seek(0)
    st = photos.store_upload(root, buf)
    if age is not None:
        then = time.time() - age.total_seconds()
        for rel in (st.path, st.thumb_path):
            os.utime(root / rel, (then, then))
    return st


def test_unattached_uploads_are_deleted_after_a_day(world):
    root = world.services.settings.uploads_dir
    old = _stage(root, timedelta(days=1, minutes=5))
    fresh = _stage(root, timedelta(hours=23))
    with world.services.db.read() as s:  # a photo attached long ago stays
        kept = s.scalar(select(CasePhoto).where(CasePhoto.id == world.ids["photo_a"]))
        kept_path = root / kept.path
    then = time.time() - timedelta(days=30).total_seconds()
    os.utime(kept_path, (then, then))
    with world.services.db.read() as s:
        n = photos.delete_orphans(s, root, now=utcnow())
    assert n >= 1
    assert not (root / old.path).exists() and not (root / old.thumb_path).exists()
    assert (root / fresh.path).exists() and kept_path.exists()
    # the bound: one sweep deletes at most `limit` files, the next one goes on
    more = [_stage(root, timedelta(days=2)) for _ in range(3)]
    with world.services.db.read() as s:
        assert photos.delete_orphans(s, root, now=utcnow(), limit=2) == 2
        assert photos.delete_orphans(s, root, now=utcnow(), limit=2) == 1
    assert not any((root / m.path).exists() for m in more)


def test_the_sweep_runs_in_housekeeping(world, monkeypatch):
    calls = []
    monkeypatch.setattr(photos, "delete_orphans", lambda s, root, **kw: calls.append(root) or 0)
    world.services.housekeeping()
    assert calls == [world.services.settings.uploads_dir]


# ---- spreadsheets -------------------------------------------------------------------------------------------
def _xlsx_with_rows(header: list[str], row_xml: bytes, n_rows: int, *, first: bytes = b"", unique: bool = False) -> bytes:
    """An .xlsx whose first sheet has ``header``, then ``first``, then ``n_rows`` copies of ``row_xml`` streamed into
    the zip (a few hundred KB on the wire for tens of MB of sheet XML); ``unique`` tags each row so that the zip
    does not shrink it (ratio ~3:1, like a real table)."""
    buf = io.BytesIO()
    pd.DataFrame(columns=header).to_excel(buf, index=False)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item))
                continue
            head, tail = src.read(item).split(b"</sheetData>")
            with dst.open(item.filename, "w", force_zip64=True) as f:
                f.write(head + first)
                if unique:
                    for _ in range(n_rows):
                        f.write(row_xml.replace(b"G00", os.urandom(12).hex().encode()))
                else:
                    chunk = row_xml * 1000
                    for _ in range(n_rows // 1000):
                        f.write(chunk)
                f.write(b"</sheetData>" + tail)
    return out.getvalue()


ROW = (b'<row><c t="inlineStr"><is><t>mediation</t></is></c><c t="inlineStr"><is><t>'
       + "调解纠纷".encode() * 8 + b'</t></is></c><c t="inlineStr"><is><t>G00</t></is></c>'
       b'<c t="inlineStr"><is><t>not a time</t></is></c></row>')
# a row no reader can read (a number cell holding text): only a reader that reads rows trips on it
UNREADABLE = b'<row><c t="n"><v>not a number</v></c></row>'


def test_spreadsheet_bomb_is_refused_before_it_is_read(world):
    bomb = _xlsx_with_rows(["kind", "title", "grid_code", "started_at"], ROW, 250_000)
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        unpacked = sum(i.file_size for i in z.infolist())
    assert len(bomb) < 1_500_000 and unpacked > 60_000_000  # ~1 MB that unpacks to ~70 MB
    t0 = time.perf_counter()
    r = world.client("dispatcher").post("/api/v1/governance/activities/import",
                                        data={"file": (io.BytesIO(bomb), "acts.xlsx")},
                                        content_type="multipart/form-data")
    took = time.perf_counter() - t0
    assert r.status_code == 413, r.get_data(as_text=True)[:300]
    assert r.get_json()["error"]["field"] == "file" and took < 5, took


def test_spreadsheet_ratio_is_checked(world):
    from dashboard.services.importers import MAX_XLSX_RATIO, TableTooLarge, read_xlsx

    bomb = _xlsx_with_rows(["kind", "title", "grid_code", "started_at"], b"<row/>" * 50, 60_000)
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        ratio = sum(i.file_size for i in z.infolist()) / sum(i.compress_size for i in z.infolist())
    assert ratio > MAX_XLSX_RATIO
    with pytest.raises(TableTooLarge, match="ratio"):
        read_xlsx(bomb, "x.xlsx", ["kind"])


def test_spreadsheet_header_is_checked_before_rows(world):
    # a wrong header, then a row that cannot be read: the answer names the missing columns, so no row was read
    sheet = _xlsx_with_rows(["what", "when"], ROW, 1000, first=UNREADABLE)
    r = world.client("dispatcher").post("/api/v1/governance/activities/import",
                                        data={"file": (io.BytesIO(sheet), "acts.xlsx")},
                                        content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "file"
    assert "missing column" in r.get_json()["error"]["message"], r.get_json()


def test_too_many_rows_is_a_413(world):
    from dashboard.services.importers import MAX_TABLE_ROWS

    sheet = _xlsx_with_rows(["kind", "title", "grid_code", "started_at"], ROW, MAX_TABLE_ROWS + 1, unique=True)
    r = world.client("dispatcher").post("/api/v1/governance/activities/import",
                                        data={"file": (io.BytesIO(sheet), "acts.xlsx")},
                                        content_type="multipart/form-data")
    assert r.status_code == 413 and r.get_json()["error"]["field"] == "file"
    assert "rows" in r.get_json()["error"]["message"]
