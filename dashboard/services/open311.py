"""Open311 GeoReport v2 mapping (PROTOCOLS.md Part A): categories ↔ services, cases ↔ requests, XML out.

Our workflow states collapse to ``open`` / ``closed``; the fine state goes to
``status_notes`` (and ``extended_attributes.state`` with ``extensions=true``). Personal
data of reporters is stored on the case but never leaves through this interface.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from ..masking import mask_name, mask_text
from ..models import Case, CaseState, Category
from ..timeutil import iso
from .name_index import known_names

SPEC = "http://wiki.open311.org/GeoReport_v2"
# The public feed lists what the public reported through it (GET needs no key): not hotline calls, field
# workers' reports or sensor cases, which carry more about people and places than a public page should.
PUBLIC_SOURCES = ("open311", "resident")
# Public coordinates are rounded to 3 decimals: about 111 m north-south and 92 m east-west at Xi'an's 34°N —
# enough to find the street corner, not the doorway (the case keeps the exact point for dispatch).
LOCATION_DECIMALS = 3
MEDIA_SCHEMES = ("http", "https")
MAX_MEDIA_URL = 2048
# characters XML 1.0 cannot carry at all (a \x0b in one description made the whole XML feed unreadable)
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str | None) -> str | None:
    """``text`` without the characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F)."""
    return _XML_ILLEGAL.sub("", text) if text else text


def media_url_problem(url: str | None) -> str | None:
    """Why ``url`` is not an acceptable ``media_url`` (only absolute http(s) URLs), or None when it is."""
    if url is None:
        return None
    if len(url) > MAX_MEDIA_URL:
        return f"media_url may be at most {MAX_MEDIA_URL} characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "media_url is not a URL"
    if parts.scheme.lower() not in MEDIA_SCHEMES or not parts.netloc:
        return "media_url must be an absolute http or https URL"
    return None


def _approx(v: float | None) -> float | None:
    return None if v is None else round(v, LOCATION_DECIMALS)
STATE_NOTES = {
    CaseState.REPORTED: "已上报，等待受理", CaseState.REGISTERED: "已立案，等待派遣",
    CaseState.DISPATCHED: "已派遣", CaseState.HANDLING: "处置中", CaseState.FEEDBACK: "已处置，等待核查",
    CaseState.CLOSED: "已结案", CaseState.VOID: "已作废",
}
ACTION_NOTES = {
    "report": "上报", "onsite": "就地处置", "register": "立案", "dispatch": "派遣", "redispatch": "改派",
    "acknowledge": "签收", "arrive": "到场", "handle": "开始处置", "feedback": "处置反馈", "approve": "核查结案",
    "reject": "核查不通过，返工", "escalate": "上报上级", "void": "作废", "evaluate": "综合评价", "merge": "合并",
    "resident_rating": "居民评价", "resident_reopen": "居民不满意，退回核查",
}
# plural list names → the element name of one item (the XML side of the Spark convention)
ITEM = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
        "formats": "format", "endpoints": "endpoint", "notes": "note", "errors": "error"}


def service_attributes(cat: Category) -> list[dict[str, Any]]:
    """The questions a service asks (its service definition)."""
    attrs = [
        {"variable": True, "code": "landmark", "datatype": "string", "required": False,
         "datatype_description": "如：某小区北门", "order": 1, "description": "附近地标"},
        {"variable": True, "code": "time_seen", "datatype": "multivaluelist", "required": False,
         "datatype_description": None, "order": 2, "description": "发现时段",
         "values": [{"key": "morning", "name": "上午"}, {"key": "afternoon", "name": "下午"},
                    {"key": "evening", "name": "晚上"}, {"key": "night", "name": "夜间"}]},
    ]
    if cat.default_priority <= 1:  # urgent classes must say whether people are at risk
        attrs.append({"variable": True, "code": "people_at_risk", "datatype": "singlevaluelist", "required": True,
                      "datatype_description": None, "order": 3, "description": "是否有人员受困或受伤",
                      "values": [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]})
    return attrs


def service_public(cat: Category) -> dict[str, Any]:
    return {"service_code": cat.code, "service_name": cat.name,
            "description": f"{cat.major_name} / {cat.name}（处置时限 {cat.time_limit_hours:g} 工作小时）",
            "metadata": True, "type": "realtime", "keywords": cat.keywords or cat.name, "group": cat.major_name}


def definition_public(cat: Category) -> dict[str, Any]:
    return {"service_code": cat.code, "attributes": service_attributes(cat)}


def check_attributes(cat: Category, given: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """Validate ``attribute[...]`` input against the definition: (values to store, problems)."""
    problems, out = [], {}
    defs = {a["code"]: a for a in service_attributes(cat)}
    for code in given:
        if code not in defs:
            problems.append(f"attribute[{code}] is not defined for service {cat.code}")
    for code, a in defs.items():
        vals = [v for v in given.get(code, []) if v != ""]
        if not vals:
            if a["required"]:
                problems.append(f"attribute[{code}] is required ({a['description']})")
            continue
        keys = {v["key"] for v in a.get("values", [])}
        if keys and any(v not in keys for v in vals):
            problems.append(f"attribute[{code}] must be one of {', '.join(sorted(keys))}")
        elif a["datatype"] == "singlevaluelist" and len(vals) > 1:
            problems.append(f"attribute[{code}] takes one value")
        else:
            out[code] = vals if a["datatype"] == "multivaluelist" else vals[-1]
    return out, problems


def request_public(c: Case, *, grid_code: str | None = None, extensions: bool = False,
                   agency: str = "") -> dict[str, Any]:
    """A case as a GeoReport v2 service request: no personal data of the reporter, ever.

    The request list is public, so free text is masked as on the wall (phones, ID numbers, e-mail addresses,
    names) and the point is approximate (``LOCATION_DECIMALS``).
    """
    own, known = [c.reporter_name], known_names(c)
    out = {
        "service_request_id": c.code, "status": "open" if CaseState(c.state).is_open else "closed",
        "status_notes": STATE_NOTES.get(c.state, c.state), "service_name": c.category.name,
        "service_code": c.category_code, "description": mask_text(c.description, own, known),
        "agency_responsible": c.department or agency, "service_notice": None,
        "requested_datetime": iso(c.created_at), "updated_datetime": iso(c.closed_at or c.updated_at),
        "expected_datetime": iso(c.sla_due_at), "address": mask_text(c.address, own, known) or None,
        "address_id": None, "zipcode": None, "lat": _approx(c.lat), "long": _approx(c.lon),
        "media_url": None if media_url_problem(c.media_url) else c.media_url,
    }
    if extensions:
        attrs = dict((c.attributes or {}).get("open311", {}))
        out["attributes"] = {k: ([mask_text(x, own, known) for x in v] if isinstance(v, list)
                                 else mask_text(v, own, known) if isinstance(v, str) else v)
                             for k, v in attrs.items()}  # free text the reporter typed, like the description
        out["extended_attributes"] = {"state": c.state, "state_text": STATE_NOTES.get(c.state, c.state),
                                      "major": c.category.major_name, "grid_code": grid_code,
                                      "outside": c.outside, "source": c.source}
        out["notes"] = [{"datetime": iso(e.at), "description": (ACTION_NOTES.get(e.action, e.action) +
                                                                 (f"：{mask_text(e.note, own, known)}"
                                                                  if e.note and e.action != "report"
                                                                  else "")),
                         "type": "status" if e.to_state != e.from_state else "note",
                         "author": mask_name(e.actor) if e.actor else None} for e in c.timeline]
    return out


def _fill(el: Element, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, dict):
        for k, v in value.items():
            _fill(SubElement(el, k), v)
    elif isinstance(value, list):
        name = ITEM.get(el.tag, "item")
        for v in value:
            _fill(SubElement(el, name), v)
    else:
        el.text = xml_safe(str(value))


def to_xml(root: str, value: Any) -> bytes:
    """XML in the spec's shape: a list under ``root`` becomes repeated items, ``None`` an empty element."""
    el = Element(root)
    _fill(el, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(el, encoding="utf-8", xml_declaration=False)
