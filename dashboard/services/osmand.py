"""OsmAnd / Traccar Client HTTP location protocol: payloads → Fix (PROTOCOLS.md Part B).

Four styles: query string (A), form body (B), JSON object of Traccar Client 9.x (C) and a
JSON array of flat objects (D). Timestamps follow Traccar's rules exactly (B.4); speed
arrives in knots (A/B/D) or m/s (C) and is stored in m/s.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..timeutil import SHANGHAI
from .positions import Fix

KNOT_MS = 1852 / 3600  # 1 knot in m/s
KNOWN = {"id", "deviceid", "timestamp", "lat", "lon", "location", "speed", "bearing", "heading", "altitude",
         "accuracy", "batt", "alarm", "coord", "token"}  # token: the device's secret, never stored as an attribute
MAX_FIXES = 100  # settings.osmand_max_fixes: Traccar's clients send at most 100 buffered fixes at once


class OsmandError(ValueError):
    """A payload the protocol refuses: ``status`` 400 (bad/unknown for A/B), 404 (unknown device, JSON) or 413
    (too many fixes); ``field`` names what was wrong."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def parse_timestamp(raw: str) -> datetime:
    """Traccar's rule: integer < 2^31-1 → seconds, else ms; 'T' → ISO with zone; else local 'yyyy-MM-dd HH:mm:ss'."""
    raw = raw.strip()
    try:
        t = int(raw)
    except ValueError:
        pass
    else:
        try:
            return datetime.fromtimestamp(t if t < 2147483647 else t / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):  # beyond year 9999 (or before year 1)
            raise OsmandError(400, f"timestamp {raw[:32]!r} is out of range", "timestamp")
    if "T" in raw:
        try:
            v = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise OsmandError(400, f"timestamp {raw[:40]!r} is not ISO 8601", "timestamp")
        if v.tzinfo is None:
            raise OsmandError(400, f"timestamp {raw[:40]!r} has no zone offset", "timestamp")
        try:
            return v.astimezone(timezone.utc)
        except OverflowError:
            raise OsmandError(400, f"timestamp {raw[:40]!r} is out of range", "timestamp")
    try:
        v = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
        return v.replace(tzinfo=SHANGHAI).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise OsmandError(400, f"timestamp {raw[:40]!r} is neither epoch, ISO 8601 nor yyyy-MM-dd HH:mm:ss",
                          "timestamp")


def _num(name: str, raw: Any, lo: float | None = None, hi: float | None = None) -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise OsmandError(400, f"{name} must be a number, got {str(raw)[:40]!r}", name)
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise OsmandError(400, f"{name} {str(raw)[:40]!r} is out of range", name)
    return v


def _attr(raw: str) -> Any:
    """Free attributes: a number if it parses, true/false as bool, else the string (as Traccar does)."""
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        v = float(raw)
        return v if math.isfinite(v) else raw
    except ValueError:
        return raw


def fix_from_params(pairs: Iterable[tuple[str, str]]) -> Fix:
    """Styles A, B and each element of D: key/value pairs (keys may repeat: cell, wifi)."""
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        multi.setdefault(k, []).append(v)
    p = {k: v[-1] for k, v in multi.items()}
    device = p.get("id") or p.get("deviceid")
    if not device:
        raise OsmandError(400, "id (or deviceid) is required", "id")
    f = Fix(device_id=device, source="osmand")
    if p.get("timestamp"):
        f.fix_time = parse_timestamp(p["timestamp"])
    lat, lon = p.get("lat"), p.get("lon")
    if (lat in (None, "") or lon in (None, "")) and p.get("location"):
        parts = p["location"].split(",")
        if len(parts) != 2:
            raise OsmandError(400, "location must be 'lat,lon'", "location")
        lat, lon = parts
    if lat not in (None, "") and lon not in (None, ""):
        f.lat, f.lon = _num("lat", lat, -90, 90), _num("lon", lon, -180, 180)
    if p.get("speed"):
        f.speed = _num("speed", p["speed"], 0) * KNOT_MS
    if p.get("bearing") or p.get("heading"):
        f.bearing = _num("bearing", p.get("bearing") or p.get("heading"))
    if p.get("accuracy"):
        f.accuracy = _num("accuracy", p["accuracy"], 0)
    if p.get("batt"):
        f.battery = _num("batt", p["batt"], 0, 100)
    f.alarm = p.get("alarm") or None
    f.crs = (p.get("coord") or "wgs84").lower()
    if f.crs not in ("wgs84", "gcj02", "bd09"):
        raise OsmandError(400, f"coord {f.crs[:16]!r} is not wgs84, gcj02 or bd09", "coord")
    attrs: dict[str, Any] = {}
    if p.get("altitude"):
        attrs["altitude"] = _num("altitude", p["altitude"])
    for k, vals in multi.items():
        if k in KNOWN:
            continue
        attrs[k] = [_attr(v) for v in vals] if k in ("cell", "wifi") or len(vals) > 1 else _attr(vals[-1])
    f.attributes = attrs or None
    return f


def fix_from_json(obj: Mapping[str, Any]) -> Fix:
    """Style C (Traccar Client 9.x / transistorsoft): ``{"location": {...}, "device_id": ...}``."""
    device = obj.get("device_id")
    if not device or not isinstance(device, (str, int)):
        raise OsmandError(404, "device_id is required", "device_id")
    loc = obj.get("location")
    if not isinstance(loc, Mapping):
        raise OsmandError(400, "location must be an object", "location")
    f = Fix(device_id=str(device), source="osmand")
    ts = loc.get("timestamp")
    if not isinstance(ts, str) or not ts:
        raise OsmandError(400, "location.timestamp is required", "location.timestamp")
    f.fix_time = parse_timestamp(ts)
    coords = loc.get("coords")
    attrs: dict[str, Any] = {}
    if isinstance(coords, Mapping) and coords.get("latitude") is not None and coords.get("longitude") is not None:
        f.lat = _num("coords.latitude", coords["latitude"], -90, 90)
        f.lon = _num("coords.longitude", coords["longitude"], -180, 180)
        speed, heading = coords.get("speed"), coords.get("heading")
        if speed is not None and _num("coords.speed", speed) >= 0:
            f.speed = float(speed)  # already m/s in this style
        if heading is not None and _num("coords.heading", heading) >= 0:
            f.bearing = float(heading)
        if coords.get("accuracy") is not None:
            f.accuracy = _num("coords.accuracy", coords["accuracy"])
        if coords.get("altitude") is not None:
            attrs["altitude"] = _num("coords.altitude", coords["altitude"])
    batt = loc.get("battery")
    if isinstance(batt, Mapping):
        level = batt.get("level")
        if level is not None and _num("battery.level", level) >= 0:
            f.battery = min(float(level), 1.0) * 100
        if "is_charging" in batt:
            attrs["charge"] = bool(batt["is_charging"])
    for key in ("is_moving", "odometer", "event", "mock"):
        if key in loc:
            attrs["motion" if key == "is_moving" else key] = loc[key]
    if isinstance(loc.get("activity"), Mapping) and "type" in loc["activity"]:
        attrs["activity"] = loc["activity"]["type"]
    extras = loc.get("extras") if isinstance(loc.get("extras"), Mapping) else {}
    alarm = loc.get("alarm") or extras.get("alarm")
    f.alarm = str(alarm) if alarm else None
    for k, v in extras.items():
        if k != "alarm" and isinstance(v, (int, float, bool, str)):
            attrs[k] = v
    f.attributes = attrs or None
    return f


def fixes_from_json(body: Any, max_fixes: int = MAX_FIXES) -> list[Fix]:
    """Style C (one object) or D (an array of at most ``max_fixes`` flat objects like the form style)."""
    if isinstance(body, Mapping):
        return [fix_from_json(body)]
    if isinstance(body, list) and len(body) > max_fixes:
        raise OsmandError(413, f"at most {max_fixes} fixes in one request, got {len(body)}", f"[{max_fixes}]")
    if isinstance(body, list) and body:
        out = []
        for i, item in enumerate(body):
            if not isinstance(item, Mapping):
                raise OsmandError(400, f"array element {i} is not an object", f"[{i}]")
            try:
                out.append(fix_from_params((str(k), "" if v is None else str(v).lower() if isinstance(v, bool)
                                            else str(v)) for k, v in item.items()))
            except OsmandError as exc:
                raise OsmandError(404 if "id (or deviceid)" in exc.message else exc.status,
                                  f"element {i}: {exc.message}", f"[{i}].{exc.field}" if exc.field else f"[{i}]")
        return out
    raise OsmandError(400, "JSON body must be an object or a non-empty array", "body")
