"""The OpenAPI 3 document at /api/v1/openapi.json, built from the pydantic models the server validates with.

Each API module describes its own paths when it registers:

    from .openapi import registry
    api = registry(app)
    api.add("/api/v1/cases", "post", summary="Report a case", body=CaseIn, roles=("worker",),
            responses={201: api.ref(CaseOut) or "description"})

The registry lives on the Flask app (``app.extensions["openapi"]``), so there is no module state.
"""
from __future__ import annotations

import re
from collections.abc import Set
from typing import Any, Iterable

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel

from .errors import ID_MAX

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["status", "message"], "properties": {
        "status": {"type": "integer"}, "message": {"type": "string"},
        "code": {"type": "string", "description": "stable: required, invalid, too_long, unknown, conflict, not_found, "
                 "forbidden, unauthenticated, too_large, rate_limited, unavailable (pages show error.<code>)"},
        "field": {"type": "string", "description": "the offending field or parameter"}}}},
}
# GeoReport v2 answers an error as a list of {code, description} (XML: <errors><error>…)
OPEN311_ERRORS = {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
    "code": {"type": "integer"}, "description": {"type": "string"}}}}
STANDARD_ERRORS = {
    "400": "bad request (names the field)", "401": "no credentials", "403": "role may not do this",
    "422": "validation failed (names the field)",
}


class OpenApiRegistry:
    """Paths and component schemas contributed by the API modules."""

    def __init__(self, title: str = "GridCommand API", version: str = "1.0.0") -> None:
        self.title, self.version = title, version
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        """Register a pydantic model as a component schema (in OpenAPI 3.0's dialect); returns its $ref."""
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, openapi30(sub))
        self.schemas[model.__name__] = openapi30(schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def schema(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        """Register a hand-written (output) schema under ``name``."""
        self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def add(self, path: str, method: str, *, summary: str, tags: Iterable[str] = (), roles: Iterable[str] = (),
            body: type[BaseModel] | dict | None = None, body_type: str = "application/json",
            params: Iterable[dict[str, Any]] = (), responses: dict[int | str, Any] | None = None,
            description: str = "", security: bool = True, extensions: dict[str, Any] | None = None,
            error_schema: dict[str, Any] | None = None) -> None:
        """Describe one operation. ``responses`` maps status → description, (description, schema) or
        (description, schema, media type); ``extensions`` adds ``x-*`` keys (``x-endless``: never ends by itself);
        ``error_schema`` replaces the standard error shape for an interface with its own (Open311)."""
        op: dict[str, Any] = {"summary": summary, "tags": list(tags) or [path.split("/")[3] if path.count("/") > 2
                                                                         else "misc"],
                              "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_')}".replace(
                                  "{", "").replace("}", "").replace(".", "_")}
        roles = list(roles)
        if description or roles:
            op["description"] = (description + ("\n\n" if description else "") +
                                 (f"Roles: {', '.join(roles)}." if roles else "")).strip()
        plist = [dict(p) for p in params]
        for name in _path_params(path):
            if not any(p["name"] == name and p["in"] == "path" for p in plist):
                plist.insert(0, {"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
        if plist:
            op["parameters"] = plist
        if body is not None:
            schema = self.ref(body) if isinstance(body, type) else body
            op["requestBody"] = {"required": True, "content": {body_type: {"schema": schema}}}
        out: dict[str, Any] = {}
        for status, spec in (responses or {200: "OK"}).items():
            desc, schema, media = (*spec, "application/json")[:3] if isinstance(spec, tuple) else (spec, None, None)
            r: dict[str, Any] = {"description": desc}
            if schema is not None:
                r["content"] = {media: {"schema": schema}}
            out[str(status)] = r
        for status, desc in STANDARD_ERRORS.items():
            out.setdefault(status, {"description": desc, "content": {"application/json": {
                "schema": error_schema or {"$ref": "#/components/schemas/Error"}}}})
        op["responses"] = out
        if not security:
            op["security"] = []
        op.update({k: v for k, v in (extensions or {}).items() if k.startswith("x-")})
        self.paths.setdefault(path, {})[method.lower()] = op

    def document(self, server_url: str = "/",
                 int_path_params: Set[tuple[str, str]] = frozenset()) -> dict[str, Any]:
        """The whole OpenAPI 3.0 document; ``int_path_params`` ((path, name) that Flask reads as ``<int:…>``) are
        documented as the integers they are (ids 1 … 2^63−1, an index from 0), not as strings."""
        paths = {p: {m: _with_int_path_params(op, p, int_path_params) for m, op in item.items()}
                 for p, item in sorted(self.paths.items())}
        return {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": self.version,
                     "description": "GridCommand field and integration API (网格化服务管理). "
                                    "Coordinates are WGS-84 unless `crs` says otherwise; times ISO 8601 with zone."},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {
                "schemas": dict(sorted(self.schemas.items())),
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "description": "API key (run.py create-api-key)"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                },
            },
            "security": [{"bearer": []}, {"apiKey": []}, {"session": []}],
        }


_NULL = {"type": "null"}
_SCHEMA_MAPS = ("properties", "patternProperties")  # name → schema
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def openapi30(schema: Any) -> Any:
    """A JSON Schema as pydantic writes it (draft 2020-12) as an OpenAPI 3.0 Schema Object.

    3.0 has no ``null`` type (``nullable: true`` beside the type instead), takes ``exclusiveMinimum`` /
    ``exclusiveMaximum`` as flags beside ``minimum`` / ``maximum``, and knows neither ``const`` nor ``examples``;
    schemathesis refuses a document that breaks these rules."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k in _SCHEMA_MAPS and isinstance(v, dict):
            out[k] = {name: openapi30(sub) for name, sub in v.items()}
        elif k in _SCHEMA_LISTS and isinstance(v, list):
            out[k] = [openapi30(sub) for sub in v]
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = openapi30(v)
        else:
            out[k] = v
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(key), (int, float)) and not isinstance(out[key], bool):
            out[bound], out[key] = out.pop(key), True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out["example"] = examples[0]
    if isinstance(out.get("type"), list):  # ["string", "null"]
        types = [x for x in out["type"] if x != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        out["type"] = types[0] if len(types) == 1 else out["type"]
    for key in ("anyOf", "oneOf"):
        alts = out.get(key)
        if isinstance(alts, list) and _NULL in alts:
            rest = [a for a in alts if a != _NULL]
            del out[key]
            out["nullable"] = True
            if len(rest) == 1 and "$ref" not in rest[0]:
                out = {**rest[0], **out}  # the parent's title, description and default win
            elif len(rest) == 1:
                out["allOf"] = rest  # beside a $ref, 3.0 ignores every other key: nullable rides on allOf
            elif rest:
                out[key] = rest
    if "default" in out and out["default"] is None and not out.get("nullable"):
        del out["default"]  # an optional field left out, not a null the caller may send
    return out


def _path_params(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def _with_int_path_params(op: dict[str, Any], path: str, ints: Set[tuple[str, str]]) -> dict[str, Any]:
    if not any((path, p["name"]) in ints for p in op.get("parameters", ()) if p["in"] == "path"):
        return op
    params = [{**p, "schema": {"type": "integer", "minimum": 1 if p["name"].endswith("_id") else 0, "maximum": ID_MAX}}
              if p["in"] == "path" and (path, p["name"]) in ints else p for p in op["parameters"]]
    return {**op, "parameters": params}


def int_path_params(app) -> set[tuple[str, str]]:
    """(OpenAPI path, name) of every URL part the app's routes convert with ``<int:…>``."""
    out: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        out.update((template, name) for name in re.findall(r"<int:([^<>]+)>", rule.rule))
    return out


def registry(app) -> OpenApiRegistry:
    """The app's registry (created on first use)."""
    return app.extensions.setdefault("openapi", OpenApiRegistry())


def query(name: str, type_: str = "string", description: str = "", **schema: Any) -> dict[str, Any]:
    """A query-parameter spec."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": type_, **schema}}


bp = Blueprint("openapi", __name__)


@bp.get("/api/v1/openapi.json")
def openapi_json():
    """The OpenAPI document; public, it holds no data."""
    app = current_app
    ints = app.extensions.get("openapi_int_params")
    if ints is None:  # every route is registered by the first request
        ints = app.extensions["openapi_int_params"] = int_path_params(app)
    return jsonify(registry(app).document(request.host_url.rstrip("/") + "/", ints))


def register(app, services) -> None:
    registry(app).add("/api/v1/openapi.json", "get", summary="This document", tags=["meta"], security=False)
    app.register_blueprint(bp)
