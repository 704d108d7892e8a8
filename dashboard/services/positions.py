"""Position ingest (one path for every source) and the once-a-second position frames."""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Float, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import events
from ..db import in_batches
from ..geo.coords import to_wgs84
from ..geo.locate import GridLocator
from ..models import Grid, Position, Worker
from ..masking import mask_name
from ..timeutil import as_utc, iso, local, utcnow
from . import alerts, position_day

log = logging.getLogger(__name__)
MAX_FUTURE_S = 300.0  # settings.position_max_future_s: a fix further ahead of the server clock is clamped

# Traccar's alarm names (org.traccar.model.Position.ALARM_*) a worker's phone or wearable may send → severity and a
# fixed title. Anything else is a generic device alarm: the sender's text never reaches a title (issue 25 item 2).
ALARMS = {
    "sos": ("extreme", "网格员紧急求助 SOS"),
    "fallDown": ("severe", "网格员跌倒告警"),
    "powerCut": ("moderate", "设备断电"),
    "removing": ("moderate", "设备被摘除"),
    "tampering": ("moderate", "设备被拆动"),
    "general": ("moderate", "设备告警"),
    "lowBattery": ("minor", "设备电量低"),
    "lowPower": ("minor", "设备供电不足"),
    "powerOff": ("minor", "设备关机"),
}
_ALARM_NAMES = {k.lower(): k for k in ALARMS} | {"fall": "fallDown"}


@dataclass
class Fix:
    """One GPS fix as it enters the domain, already parsed from its protocol."""

    device_id: str | None = None
    worker_id: int | None = None
    fix_time: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    speed: float | None = None      # m/s
    bearing: float | None = None
    accuracy: float | None = None   # m
    battery: float | None = None    # percent
    alarm: str | None = None
    crs: str = "wgs84"
    source: str = "app"
    attributes: dict[str, Any] | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    unknown_devices: list[str] = field(default_factory=list)
    no_location: int = 0
    outside: int = 0
    alarms: int = 0
    moved: list[dict[str, Any]] = field(default_factory=list)  # live-marker updates for the frame


def alarm_kind(raw: str) -> str:
    """The fixed alarm name for what a device sent: sos, fallDown, lowBattery … or 'general' for anything else."""
    return _ALARM_NAMES.get("".join(ch for ch in str(raw).lower() if ch.isalnum()), "general")


def clamp_future(f: Fix, now: datetime, max_future_s: float) -> bool:
    """A fix stamped more than ``max_future_s`` ahead of ``now`` is stored at ``now`` (its claim kept as the
    ``device_time`` attribute): a wrong or hostile clock must not pin the live marker, and refusing the fix
    would jam a Traccar client, which retries its oldest buffered fix forever."""
    if f.fix_time is None or as_utc(f.fix_time) <= now + timedelta(seconds=max_future_s):
        return False
    f.attributes = {**(f.attributes or {}), "device_time": iso(f.fix_time)}
    f.fix_time = now
    return True


def ingest_fixes(session: Session, fixes: list[Fix], *, locator: GridLocator | None,
                 now: datetime | None = None, max_future_s: float = MAX_FUTURE_S) -> IngestResult:
    """Store fixes (duplicates dropped, late fixes kept, future ones clamped) and move live markers forward only."""
    now = now or utcnow()
    res = IngestResult()
    for f in fixes:
        if clamp_future(f, now, max_future_s):
            log.debug("fix of device %r / worker %s stamped %s, ahead of the clock: stored at receive time",
                     (f.device_id or "")[:64], f.worker_id, f.attributes["device_time"])
    devices = {f.device_id for f in fixes if f.device_id and f.worker_id is None}
    by_device = dict(session.execute(select(Worker.device_id, Worker.id).where(Worker.device_id.in_(devices))).all()) \
        if devices else {}
    rows, located = [], []
    for f in fixes:
        wid = f.worker_id if f.worker_id is not None else by_device.get(f.device_id)
        if wid is None:
            res.unknown_devices.append(f.device_id or "")
            continue
        f.worker_id = wid
        if f.alarm:
            located.append(f)
        if f.lat is None or f.lon is None:
            res.no_location += 1
            continue
        rows.append(f)
    if rows:
        lats = np.array([f.lat for f in rows], dtype=float)
        lons = np.array([f.lon for f in rows], dtype=float)
        for crs in {f.crs for f in rows if f.crs.lower() != "wgs84"}:
            m = np.array([f.crs == crs for f in rows])
            lats[m], lons[m] = to_wgs84(lats[m], lons[m], crs)
        grid_ids = locator.locate_many(lats, lons) if locator else [None] * len(rows)
        values = []
        for f, lat, lon, gid in zip(rows, lats, lons, grid_ids):
            gid = None if gid is None or (isinstance(gid, (int, np.integer)) and gid < 0) else int(gid)
            f.lat, f.lon = float(lat), float(lon)
            f.fix_time = as_utc(f.fix_time) if f.fix_time else now
            values.append(dict(worker_id=f.worker_id, fix_time=f.fix_time, received_at=now, lat=f.lat, lon=f.lon,
                               speed=f.speed, bearing=f.bearing, accuracy=f.accuracy, battery=f.battery,
                               grid_id=gid, outside=gid is None, source=f.source, attributes=f.attributes))
            res.outside += gid is None
        dialect = session.get_bind().dialect.name
        pt = Position.__table__  # Core, not the ORM's bulk path: a third of the time for the same rows
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(pt)
        stmt = ins.on_conflict_do_nothing(index_elements=["worker_id", "fix_time", "lat", "lon"]).returning(
            pt.c.worker_id, pt.c.fix_time, pt.c.lat, pt.c.lon, pt.c.grid_id, pt.c.accuracy)
        inserted = session.execute(stmt, values).all()
        res.accepted = len(inserted)
        res.duplicates = len(values) - len(inserted)
        position_day.record(session, inserted)  # the briefing's per-day worker x grid rollup
        _move_markers(session, inserted, {(v["worker_id"], v["fix_time"]): v for v in values}, res)
        if res.moved:  # a dispatched worker near the case has arrived
            from .dispatch import detect_arrivals
            detect_arrivals(session, res.moved, now=now)
    for f in located:
        _raise_alarm(session, f, locator, now)
        res.alarms += 1
    return res


def _move_markers(session: Session, inserted, values_by_key, res: IngestResult) -> None:
    """Advance each worker's live position to its newest fix; older fixes only join the track.

    Columns in, one executemany UPDATE out: loading ~100 Worker objects (with their grids) and flushing
    them was most of a simulator tick's time holding SQLite's write lock, which a report filed at that
    moment waited for.
    """
    newest: dict[int, Any] = {}
    for r in inserted:
        if r.worker_id not in newest or r.fix_time > newest[r.worker_id].fix_time:
            newest[r.worker_id] = r
    if not newest:
        return
    current = session.execute(select(Worker.id, Worker.last_fix_at, Worker.duty_state, Worker.grid_id)
                              .where(Worker.id.in_(list(newest)))).all()
    updates = []
    for wid, last_fix_at, duty_state, home_grid in current:
        r = newest[wid]
        t = as_utc(r.fix_time)
        if last_fix_at is not None and t <= as_utc(last_fix_at):
            continue  # a late fix from a buffer: keep it in the track, don't move the marker back
        battery = values_by_key.get((wid, r.fix_time), {}).get("battery")
        updates.append({"w_id": wid, "w_t": t, "w_lat": r.lat, "w_lon": r.lon, "w_grid": r.grid_id,
                        "w_battery": battery})
        res.moved.append({"worker_id": wid, "lat": round(r.lat, 6), "lon": round(r.lon, 6),
                          "state": duty_state, "t": iso(t), "grid_id": r.grid_id, "home_grid_id": home_grid})
    if not updates:
        return
    w = Worker.__table__.c
    session.execute(update(Worker.__table__).where(w.id == bindparam("w_id")).values(
        last_fix_at=bindparam("w_t"), last_lat=bindparam("w_lat"), last_lon=bindparam("w_lon"),
        last_grid_id=bindparam("w_grid"), last_battery=func.coalesce(bindparam("w_battery", type_=Float), w.last_battery)),
        updates)
    moved_ids = {u["w_id"] for u in updates}
    for obj in list(session.identity_map.values()):  # rows this session holds see the new position on next access
        if isinstance(obj, Worker) and obj.id in moved_ids:
            session.expire(obj, ["last_fix_at", "last_lat", "last_lon", "last_grid_id", "last_battery"])


def _raise_alarm(session: Session, f: Fix, locator: GridLocator | None, now: datetime) -> None:
    """An alert for a device's alarm, owned by the community of the worker's home grid (where the fix fell may be
    outside every grid, and a street-wide alert would reach every community's screens)."""
    w = session.get(Worker, f.worker_id)
    lat, lon = (f.lat, f.lon) if f.lat is not None else (w.last_lat, w.last_lon)
    gid = locator.locate(lat, lon) if (locator and lat is not None) else w.grid_id
    gid = None if gid is None or gid < 0 else int(gid)
    home = session.get(Grid, w.grid_id) if w.grid_id else None
    here = session.get(Grid, gid) if gid else None
    community = home.community_id if home is not None else (here.community_id if here is not None else None)
    kind = alarm_kind(f.alarm)
    if kind == "general" and f.alarm.strip().lower() != "general":
        log.info("device alarm %r of worker %s is not a known alarm name: raised as a general device alarm",
                 f.alarm[:32], w.code)
    severity, label = ALARMS[kind]
    t = as_utc(f.fix_time) if f.fix_time else now
    # one open alarm alert per worker and kind: a second press of SOS repeats it (count, last time), it does not
    # put a second card on the wall; the title leads with the grid's name (the worker's code is in it too)
    where = here or home
    alerts.raise_alert(
        session, source="sos" if kind == "sos" else "device", kind=kind, severity=severity,
        text_key="alert.text.alarm", text_params={
            "grid": where.name if where is not None else "—", "alarm_key": f"alert.alarm.{kind}",
            "worker": f"{mask_name(w.name) or ''} {w.code}".strip(), "at": local(t).strftime("%H:%M:%S")},
        lat=lat, lon=lon, grid_id=gid, community_id=community, worker_id=w.id,
        dedupe_key=f"alarm:{w.id}:{kind}:{t.isoformat()}", subject=f"worker:{w.id}", now=now,
        data={"label": label})


FRAMES_PER_TRANSACTION = 25  # communities' frames written per background transaction


class PositionFrames:
    """Coalesces live-marker moves into at most one event per community per interval.

    The wall's cost then does not grow with the number of phones: whatever arrives
    within a second goes out as one frame holding each moved worker's newest fix.
    """

    def __init__(self, grid_community: dict[int, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._latest: dict[int, dict[str, Any]] = {}
        self.grid_community = grid_community or {}

    def add(self, moved: list[dict[str, Any]]) -> None:
        with self._lock:
            for m in moved:
                self._latest[m["worker_id"]] = m

    def pending(self) -> int:
        with self._lock:
            return len(self._latest)

    def flush(self, session: Session) -> int:
        """Write one 'positions' event per community with the moves since the last flush."""
        moved, frames = self.take()
        self.write(session, frames)
        return moved

    def take(self) -> tuple[int, list[tuple[int | None, list]]]:
        """The moves since the last flush, grouped by community: (workers moved, [(community, rows)])."""
        with self._lock:
            latest, self._latest = self._latest, {}
        by_comm: dict[int | None, list] = {}
        for m in latest.values():
            comm = self.grid_community.get(m.get("home_grid_id") or m.get("grid_id"))
            by_comm.setdefault(comm, []).append(
                [m["worker_id"], m["lat"], m["lon"], m["state"], m["t"], m.get("grid_id")])
        return len(latest), sorted(by_comm.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))

    @staticmethod
    def write(session: Session, frames: list[tuple[int | None, list]]) -> None:
        for comm, rows in frames:
            events.record(session, "positions", {"fields": ["worker_id", "lat", "lon", "state", "t", "grid_id"],
                                                 "workers": rows}, community_id=comm)

    def flush_in_turns(self, db, per_transaction: int = FRAMES_PER_TRANSACTION) -> int:
        """``flush`` in background write transactions of at most ``per_transaction`` communities: a city's second
        of moves is a frame for each of 334 communities, and one transaction of them all held the write turn up
        to 0.9 s while a person's report waited for it."""
        moved, frames = self.take()
        for i in range(0, len(frames), per_transaction):
            with db.write(bulk=True) as s:
                self.write(s, frames[i:i + per_transaction])
        return moved


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


PRUNE_BATCH = 5000


def prune_frames(session: Session, *, older_than: timedelta, now: datetime | None = None,
                 limit: int | None = None) -> int:
    """Drop position frames older than the retention (tracks stay in the position table); at most ``limit`` of
    the oldest in one call, so a caller can keep each transaction short (prune_frames_in_batches)."""
    from sqlalchemy import delete
    from ..models import Event

    cutoff = (now or utcnow()) - older_than
    old = (Event.type == "positions") & (Event.at < cutoff)
    if limit is None:
        return session.execute(delete(Event).where(old)).rowcount or 0
    seqs = list(session.scalars(select(Event.seq).where(old).order_by(Event.seq).limit(limit)))
    if not seqs:
        return 0
    return session.execute(delete(Event).where(Event.seq.in_(seqs))).rowcount or 0


def prune_frames_in_batches(db, *, older_than: timedelta, now: datetime | None = None,
                            batch: int = PRUNE_BATCH) -> int:
    """prune_frames a batch per background write transaction until none is left."""
    return in_batches(db, lambda s, n: prune_frames(s, older_than=older_than, now=now, limit=n), batch)
