"""Loading the 网格+五治 registers (party, legal staff, activities, access devices) from a data folder."""
from __future__ import annotations

import logging
import secrets
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Community, Grid, Place
from ..models.governance import AccessDevice, GovernanceActivity, LegalStaff, PartyBranch, PartyPost
from ..timeutil import SHANGHAI, utcnow
from .governance import ActivityProblem, Lookups, validate_activity
from .importers import ImportProblem

log = logging.getLogger(__name__)


def _table(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig") if path.exists() else None


def _f(v: str) -> float | None:
    return float(v) if v not in (None, "") else None


def _shift_activities(df: pd.DataFrame, end_on: date) -> pd.DataFrame:
    """The demo's activities moved by whole days so the file's last activity day falls on ``end_on`` (codes that carry
    a date, GAyyyymmddNNN, move with it): a demo history that stays in the present (a rolling 90 days)."""
    starts = pd.to_datetime(df["started_at"])
    shift = pd.Timedelta(days=(end_on - starts.max().date()).days)
    out = df.copy()
    out["started_at"] = (starts + shift).dt.strftime("%Y-%m-%d %H:%M")
    ends = pd.to_datetime(df["ended_at"].replace("", None))
    out["ended_at"] = (ends + shift).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    dated = out["code"].str.match(r"^GA\d{11}$")
    out.loc[dated, "code"] = "GA" + (starts[dated] + shift).dt.strftime("%Y%m%d") + out.loc[dated, "code"].str[10:]
    return out


def load_governance_registers(session: Session, folder: str | Path, *, end_on: date | None = None) -> dict[str, int]:
    """Load whichever register files the folder has (a center's own folder may have none); with ``end_on`` the
    activities' history is moved to end that day (the demo street's, loaded at first start)."""
    d = Path(folder)
    grids = {c: (i, cm) for c, i, cm in session.execute(select(Grid.code, Grid.id, Grid.community_id))}
    comms = dict(session.execute(select(Community.code, Community.id)).all())
    places = dict(session.execute(select(Place.code, Place.id)).all())
    counts: dict[str, int] = {}

    def grid(code: str, where: str) -> tuple[int, int]:
        if code not in grids:
            raise ImportProblem(f"{where}: grid_code {code!r} is not a known grid")
        return grids[code]

    if (df := _table(d / "party_branches.csv")) is not None:
        branches = []
        for i, r in enumerate(df.to_dict("records"), 2):
            gid = grid(r["grid_code"], f"party_branches.csv line {i}")[0] if r["grid_code"] else None
            branches.append(PartyBranch(code=r["branch_code"], name=r["name"], kind=r["kind"],
                                        community_id=comms[r["community_code"]], grid_id=gid,
                                        place_id=places.get(r["place_code"]), members=int(r["members"] or 0),
                                        central_households=int(r["central_households"] or 0),
                                        secretary_masked=r["secretary_masked"]))
        session.add_all(branches)
        session.flush()
        counts["party_branches"] = len(branches)
    branch_ids = dict(session.execute(select(PartyBranch.code, PartyBranch.id)).all())
    if (df := _table(d / "party_posts.csv")) is not None:
        session.add_all([PartyPost(code=r["post_code"], grid_id=grid(r["grid_code"], f"party_posts.csv line {i}")[0],
                                   branch_id=branch_ids.get(r["branch_code"]), member_masked=r["member_masked"],
                                   post=r["post"], registered_on=pd.Timestamp(r["registered_on"]).to_pydatetime()
                                   .replace(tzinfo=SHANGHAI))
                         for i, r in enumerate(df.to_dict("records"), 2)])
        counts["party_posts"] = len(df)
    if (df := _table(d / "legal_staff.csv")) is not None:
        session.add_all([LegalStaff(code=r["staff_code"], role=r["role"], name_masked=r["name_masked"],
                                    organisation=r["organisation"],
                                    grid_id=grid(r["grid_code"], f"legal_staff.csv line {i}")[0])
                         for i, r in enumerate(df.to_dict("records"), 2)])
        session.flush()
        counts["legal_staff"] = len(df)
    if (df := _table(d / "access_devices.csv")) is not None:
        devices = []
        for i, r in enumerate(df.to_dict("records"), 2):
            gid, cid = grid(r["grid_code"], f"access_devices.csv line {i}")
            # no secret in the file (the demo street's): a random one, never one derived from anything public
            secret = (r.get("secret") or "").strip() or secrets.token_hex(16)
            devices.append(AccessDevice(device_id=r["device_id"], name=r["name"], kind=r.get("kind") or "door",
                                        secret=secret, place_id=places.get(r["place_code"]), grid_id=gid,
                                        community_id=cid, lat=_f(r["lat"]), lon=_f(r["lon"])))
        session.add_all(devices)
        counts["access_devices"] = len(devices)
    if (df := _table(d / "activities.csv")) is not None:
        if end_on is not None and len(df):
            df = _shift_activities(df, end_on)
        # the demo history goes in quietly (no live events); validated like any import
        look, now, rows = Lookups(session), utcnow(), []
        if "case_code" in df:  # two queries for the file, not two per row (1,379 rows: a second of the first start)
            look.prefetch_cases(session, df["case_code"])
        if "code" in df:
            look.prefetch_codes(session, df["code"])
        for i, r in enumerate(df.to_dict("records"), 2):
            try:
                values = validate_activity(r, look, session, now=now)
            except ActivityProblem as p:
                raise ImportProblem(f"activities.csv line {i}: {p.field}: {p.message}")
            rows.append(GovernanceActivity(**values, source="demo", created_by="demo", created_at=now))
        session.add_all(rows)
        counts["activities"] = len(rows)
    session.flush()
    if counts:
        log.info("loaded the 网格+五治 registers: %s", counts)
    return counts
