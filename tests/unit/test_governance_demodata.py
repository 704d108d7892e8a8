"""The committed 网格+五治 demo registers equal the generator's output and load cleanly."""
from __future__ import annotations

import shutil
from pathlib import Path

from dashboard.demodata.governance import FILES, generate

DATA = Path(__file__).resolve().parents[2] / "data" / "xiyilu"


def test_committed_registers_match_generator(tmp_path: Path) -> None:
    for name in ("grids.geojson", "places.csv", "organisations.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    generate(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"data/xiyilu/{name} differs; rerun python -m dashboard.demodata.governance")


def test_no_raw_names_in_registers() -> None:
    import pandas as pd

    for name, col in [("party_posts.csv", "member_masked"), ("legal_staff.csv", "name_masked"),
                      ("party_branches.csv", "secretary_masked")]:
        values = pd.read_csv(DATA / name, dtype=str, keep_default_na=False)[col]
        assert values.str.fullmatch(r".\*").all(), name
