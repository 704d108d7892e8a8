"""Translations: zh-CN by default, English one switch away.

Each feature keeps its own catalogue file ``dashboard/i18n/<feature>.json`` mapping a
key to ``{"zh-CN": ..., "en": ...}``; all files are merged at start-up.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
# the language a visitor chose last (``?lang=`` on any page sets it), so a link without ``?lang=`` keeps it
LANG_COOKIE = "gc_lang"
_DIR = Path(__file__).resolve().parent

# Every internal code a page or an export may show, by family: the text of ``value`` is ``<family>.<value>``
# (label() below). tests/unit/test_i18n_keys.py checks that every listed value has its text in both languages.
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "case.state": ("reported", "registered", "dispatched", "handling", "feedback", "closed", "void"),
    "case.source": ("app", "open311", "hotline", "sensor", "operator", "resident"),
    "duty": ("offline", "available", "patrolling", "dispatched", "en_route", "on_scene", "handling"),
    "alert.state": ("new", "acknowledged", "resolved"),
    "alert.kind": ("sos", "overdue", "sla_warning", "no_ack", "worker_offline", "not_patrolled", "case_spike",
                   "cap_alert", "cap_update", "cap_cancel", "door_forced", "door_held_open", "device_offline", "smoke_alarm"),
    "alert.source": ("rule", "device", "cap", "sos", "app", "operator", "api", "demo", "osmand"),
    "alert.severity": ("extreme", "severe", "moderate", "minor", "unknown"),
    "dispatch.state": ("sent", "acknowledged", "arrived", "done", "cancelled"),
    "role": ("admin", "dispatcher", "leader", "worker", "integration", "display"),
    "priority": ("1", "2", "3", "4"),
}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All keys of all feature files (read once; the files are part of the code)."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged and merged[key] != texts:
                raise ValueError(f"i18n key {key!r} defined differently in {path.name}")
            merged[key] = texts
    return merged


def normalise_lang(lang: str | None) -> str:
    """Map 'en', 'en-US', 'zh', 'zh-CN' … to one of LANGS."""
    if not lang:
        return DEFAULT_LANG
    return "en" if lang.lower().startswith("en") else "zh-CN"


def t(key: str, lang: str | None = None, **fmt) -> str:
    """The text for ``key`` in ``lang``; falls back to Chinese, then to the key itself."""
    texts = catalogue().get(key)
    if texts is None:
        return key
    text = texts.get(normalise_lang(lang)) or texts.get(DEFAULT_LANG) or key
    return text.format(**fmt) if fmt else text


def texts_for(lang: str | None, prefix: str = "") -> dict[str, str]:
    """Every key (optionally under a prefix) in one language, for clientside code."""
    lang = normalise_lang(lang)
    return {k: v.get(lang) or v.get(DEFAULT_LANG, k) for k, v in catalogue().items() if k.startswith(prefix)}


def label(family: str, value: object, lang: str | None = None) -> str:
    """The text of one internal code (``label("case.state", "closed", "en")`` → "Closed"): the one lookup every
    page and export uses for kinds, sources, states and the like. A value without a text shows the family's
    ``<family>.other`` text (or an empty string), never the code itself."""
    if value is None or value == "":
        return ""
    key = f"{family}.{value}"
    if key in catalogue():
        return t(key, lang)
    return t(f"{family}.other", lang) if f"{family}.other" in catalogue() else ""


def labels_for(lang: str | None) -> dict[str, str]:
    """Every enum text in one language (``{"case.state.closed": "Closed", …}``) for the page scripts."""
    keys = [f"{f}.{v}" for f, vs in ENUM_VALUES.items() for v in vs] + [f"{f}.other" for f in ENUM_VALUES]
    return {k: t(k, lang) for k in keys if k in catalogue()}


def request_lang(explicit: str | None = None) -> str:
    """The language of the current request: ``explicit`` (a page's ``?lang=``), else the ``?lang=`` of the
    request, else the visitor's cookie, else Chinese."""
    if explicit:
        return normalise_lang(explicit)
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - flask is a dependency
        return DEFAULT_LANG
    if not has_request_context():
        return DEFAULT_LANG
    return normalise_lang(request.args.get("lang") or request.cookies.get(LANG_COOKIE))


# API errors carry a stable ``code`` next to ``field`` and the (English, for API clients) ``message``; a page
# shows ``error.<code>`` naming ``field.<field>`` in its own language (error_text here, GCDom.errorText in JS).
_ERROR_BY_STATUS = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large",
                    429: "rate_limited"}
_ERROR_BY_WORDS = (  # for 400/422: the first pattern the message matches
    ("forbidden", ("not allowed", "only a ", "may not")),
    ("required", ("is required", "are required", "field required", "must not be empty", "missing", "needs a note",
                  "name the ")),
    ("too_long", ("at most", "too long", "should have at most")),
    ("unknown", ("unknown", "does not exist", "not a known", "no case", "is not a category")),
    ("conflict", ("already exists", "already")),
)


def error_code(status: int, message: str | None = "") -> str:
    """The stable code of an API error: from the status, or for a 400/422 from the message's wording."""
    if status >= 500:
        return "unavailable"
    if status in _ERROR_BY_STATUS:
        return _ERROR_BY_STATUS[status]
    low = (message or "").lower()
    for code, words in _ERROR_BY_WORDS:
        if any(w in low for w in words):
            return code
    return "invalid"


def error_text(code: str | None, field: str | None, lang: str | None) -> str:
    """An API error in the page's language: ``error.<code>`` naming the field's label (``field.<field>``);
    a field without a label is left unnamed (``error.<code>.any``) rather than shown as its internal name."""
    keys = catalogue()
    code = code if code and f"error.{code}" in keys else "invalid"
    if field and f"field.{field}" in keys:
        return t(f"error.{code}", lang, field=t(f"field.{field}", lang))
    return t(f"error.{code}.any", lang)


# Names of places and categories (``name.<Chinese name>`` in names.json): shown in the page's language where the
# catalogue has an English one. A grid "兴乐社区第04网格" is its community's English name and number ("Xingle 04");
# a name with no English stays Chinese (it is a name, not a key).
_GRID_NAME = re.compile(r"^(?P<comm>\S+?社区)第(?P<n>\d+)网格$")
_COMMUNITY_SUFFIX = " Community"


def place_name(name: str | None, lang: str | None) -> str | None:
    """``name`` in ``lang``: the catalogue's English for a street, community, grid or category name, else ``name``."""
    if not name or normalise_lang(lang) != "en" or not isinstance(name, str):
        return name
    keys = catalogue()
    if (hit := keys.get(f"name.{name}")) is not None:
        return hit["en"]
    if (m := _GRID_NAME.match(name)) and (comm := keys.get(f"name.{m['comm']}")) is not None:
        return f"{comm['en'].removesuffix(_COMMUNITY_SUFFIX)} {m['n']}"
    if (comm := keys.get(f"name.{name}社区")) is not None:  # a community's short form on a chart: 兴乐
        return comm["en"].removesuffix(_COMMUNITY_SUFFIX)
    if "/" in name.strip("/"):  # 大类/小类
        return "/".join(place_name(part, lang) or part for part in name.split("/"))
    return name


def names_for(lang: str | None) -> dict[str, str]:
    """``name.<Chinese name>`` → the name in ``lang`` (only English differs), for the page scripts (GCDom.name)."""
    if normalise_lang(lang) != "en":
        return {}
    return {k: v["en"] for k, v in catalogue().items() if k.startswith("name.")}


_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _grid_in_text() -> re.Pattern:
    """A grid name inside a sentence: a community the catalogue names, 第, a number, 网格."""
    comms = sorted((k[5:] for k in catalogue() if k.startswith("name.") and k.endswith("社区")), key=len, reverse=True)
    return re.compile("(?:" + "|".join(map(re.escape, comms)) + r")第\d+网格") if comms else re.compile(r"(?!x)x")


def place_names_in(text: str, lang: str | None) -> str:
    """A sentence the product wrote (a summary, a heading) with the place and category names in it put into
    ``lang``; never for free text a person wrote (a category name inside a description is their words)."""
    if normalise_lang(lang) != "en" or not text or not _CJK.search(text):
        return text
    text = _grid_in_text().sub(lambda m: place_name(m.group(0), lang) or m.group(0), text)
    for zh in sorted((k[5:] for k in catalogue() if k.startswith("name.")), key=len, reverse=True):
        if zh in text:
            text = text.replace(zh, catalogue()[f"name.{zh}"]["en"])
    return text


# keys under which an answer (an API's JSON, a page's component tree or figure) holds a name to show
NAME_KEYS = frozenset({"name", "names", "category", "category_name", "major", "major_name", "minor_name", "grid_name",
                       "community_name", "community", "street", "street_name", "children", "label", "text", "x", "y",
                       "ticktext", "tickvals", "categoryarray", "hovertext", "labels", "scope_name", "grid", "place"})


def localize_json(value: Any, lang: str | None, key: str | None = None, hits: list | None = None) -> Any:
    """``value`` (parsed JSON) with every whole-string name under a NAME_KEYS key in ``lang`` (unchanged for
    Chinese). Only whole strings: free text that happens to contain a name is left as written. ``hits`` (a list)
    gets one entry per name put into ``lang`` (none: the answer can be sent as it was)."""
    if normalise_lang(lang) != "en":
        return value
    if isinstance(value, str):
        if key in NAME_KEYS and _CJK.search(value):
            out = place_name(value, lang)
            if hits is not None and out != value:
                hits.append(value)
            return out
        return value
    if isinstance(value, list):
        if not value or isinstance(value[0], (int, float)) or key in _NO_NAMES:  # coordinates, series
            return value
        return [localize_json(v, lang, key, hits) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _NO_NAMES else localize_json(v, lang, k if isinstance(k, str) else key, hits)
                for k, v in value.items()}
    return value


_NO_NAMES = frozenset({"coordinates", "geometry", "lat", "lon", "z", "locations"})  # big, and never a name
