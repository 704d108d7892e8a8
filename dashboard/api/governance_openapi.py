"""OpenAPI descriptions of the 网格+五治 and device-webhook endpoints (request bodies from their pydantic models)."""
from __future__ import annotations

from ..services.access_control import DeviceEventIn, HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIMESTAMP, WINDOW_S
from ..services.governance import ActivityIn
from .governance import TargetIn
from .openapi import query, registry


def describe(app) -> None:
    api = registry(app)
    tags = ["governance"]
    api.add("/api/v1/governance/indicators", "get", summary="五治 indicators per street, community or grid", tags=tags,
            roles=("dispatcher", "leader", "display", "worker"),
            params=[query("level", enum=["street", "community", "grid"]), query("day", format="date"),
                    query("community_id", "integer"), query("lang", enum=["zh-CN", "en"]),
                    query("previous", enum=["0", "1"], description="1: each row also carries last month's values "
                                                                       "and scores (to its last day)")],
            description="Month to date of `day` (Asia/Shanghai). Each indicator carries its formula, unit and target; "
                        "each row its values, the figures the targets expect and 0–100 scores.")
    api.add("/api/v1/governance/panel", "get", summary="The wall panel: 0–100 per dimension per community",
            tags=tags, roles=("dispatcher", "leader", "display", "worker"), params=[query("day", format="date")])
    api.add("/api/v1/governance/targets", "get", summary="The street's target for every 五治 indicator", tags=tags,
            roles=("admin", "leader", "dispatcher"), params=[query("lang", enum=["zh-CN", "en"])],
            description="Each indicator with its `target`, `default` and `target_basis`: `value` (the ratio "
                        "itself), `grid` (a count per grid) or `grid_month` (a count per grid for a whole month, "
                        "pro-rated to the days gone). score = min(100, 100 × value / expected).")
    api.add("/api/v1/governance/targets/{key}", "put", summary="Set one 五治 indicator's target (audited)",
            tags=tags, roles=("admin",),
            body=TargetIn,
            responses={200: "set", 400: "target missing or not a number > 0", 404: "no such indicator"})
    api.add("/api/v1/governance/activities", "post", summary="Record a governance activity", tags=tags,
            roles=("worker", "dispatcher", "integration"), body=ActivityIn,
            responses={201: "recorded", 403: "the grid is outside the caller's community; nothing recorded"})
    api.add("/api/v1/governance/activities/import", "post", summary="Import activities from CSV or Excel", tags=tags,
            roles=("dispatcher", "integration"), body_type="multipart/form-data",
            body={"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
            responses={201: "all rows imported", 422: "row-level errors [{line, field, message}]; nothing imported",
                       403: "as 422, and some row's grid is outside the caller's community"})
    api.add("/api/v1/devices/events", "post", summary="Signed device event (access control, smoke)",
            tags=["devices"], body=DeviceEventIn, security=False,
            responses={201: "stored; alert rules applied", 401: "unknown device, bad signature or outside the window",
                       409: "event_id already received from this device"},
            description=f"Headers: `{HEADER_DEVICE}` (device id), `{HEADER_TIMESTAMP}` (unix seconds, within "
                        f"±{WINDOW_S} s of the server), `{HEADER_SIGNATURE}: sha256=<hex>` = HMAC-SHA256 with the "
                        f"device's secret over `<timestamp>.<raw body>`.")
    api.add("/api/v1/devices", "get", summary="Access-control devices (no secrets)", tags=["devices"],
            roles=("dispatcher", "leader", "display"))
