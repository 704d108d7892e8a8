"""The OpenAPI document is OpenAPI 3.0 (issue 30 item 9): request bodies come from the pydantic models the views
validate with, and what pydantic writes in JSON Schema 2020-12 is turned into 3.0's dialect."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dashboard.api.openapi import OpenApiRegistry, openapi30


class Inner(BaseModel):
    n: int = Field(gt=0, lt=10)


class Body(BaseModel):
    kind: Literal["a"]
    note: str | None = Field(default=None, max_length=5, description="a note")
    inner: Inner | None = None
    target: float = Field(gt=0)
    tags: list[str] = Field(default_factory=list, examples=[["x"]])


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_pydantic_schema_becomes_openapi_30():
    api = OpenApiRegistry()
    ref = api.ref(Body)
    assert ref == {"$ref": "#/components/schemas/Body"}
    body, inner = api.schemas["Body"], api.schemas["Inner"]
    props = body["properties"]
    # null is no type in 3.0: nullable beside the type, the field's own description kept
    assert props["note"] == {"type": "string", "maxLength": 5, "nullable": True, "description": "a note",
                             "default": None, "title": "Note"}
    assert props["inner"]["nullable"] is True and props["inner"]["allOf"] == [{"$ref": "#/components/schemas/Inner"}]
    # exclusive bounds are flags beside minimum / maximum
    assert (props["target"]["minimum"], props["target"]["exclusiveMinimum"]) == (0, True)
    assert inner["properties"]["n"] == {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 10,
                                        "exclusiveMaximum": True, "title": "N"}
    assert props["kind"]["enum"] == ["a"] and "const" not in props["kind"]
    assert props["tags"]["example"] == ["x"]
    for node in _walk(api.schemas):
        assert node.get("type") != "null" and "const" not in node and "examples" not in node and "$defs" not in node
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert key not in node or node[key] is True


def test_the_conversion_changes_only_what_30_lacks():
    plain = {"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}, "required": ["a"]}
    assert openapi30(plain) == plain
    assert openapi30({"type": ["string", "null"]}) == {"type": "string", "nullable": True}


def test_the_worker_edit_model_knows_the_import_shifts():
    """The edit's shift values are the worker table's (services/worker_import.SHIFTS), written twice."""
    from typing import get_args

    from dashboard.api.admin_workers import WorkerEditIn
    from dashboard.services.worker_import import SHIFTS

    assert get_args(WorkerEditIn.model_fields["shift"].annotation) == SHIFTS
