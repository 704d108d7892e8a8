"""Every translation key the code uses exists in both languages (dashboard/i18n/*.json).

Keys are looked up through ``t("key", lang)`` in Python (dashboard/, layouts/, callbacks/) and through a
``tx("key")`` helper in the page scripts (dashboard/assets/*.js; ``tx(p, "key")`` in the coverage panel), which
read the texts the layout put into ``data-texts``. A key built at run time (``t(f"wall.kpi.{k}")``,
``tx("wall.status." + s)``) is checked by its literal prefix: some key must start with it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.i18n import LANGS, catalogue

ROOT = Path(__file__).resolve().parents[2]
# t("key" / t(f"prefix.{x}" / t('prefix.' + x — the call's first argument when it starts with a string literal
PY_CALL = re.compile(r"""(?<![\w.])t\(\s*(?P<f>f?)(?P<q>["'])(?P<body>(?:(?!(?P=q)).)*)(?P=q)\s*(?P<plus>\+)?""")
# tx("key" / this.tx("prefix." + x / tx(p, "key"), and the texts read directly: t["key"] / self.t["prefix." + x]
JS_CALL = re.compile(r"""(?:\btx\(\s*(?:[\w.]+\s*,\s*)?|(?<![\w$])(?:t|T|texts)\[\s*)"""
                     r"""(?P<q>["'])(?P<body>(?:(?!(?P=q)).)*)(?P=q)\s*(?P<plus>\+)?""")


def uses(pattern: re.Pattern, text: str) -> list[tuple[str, bool]]:
    """(key or prefix, is_prefix) for every lookup in ``text`` whose key is (partly) literal."""
    out = []
    for m in pattern.finditer(text):
        body = m["body"]
        if m.groupdict().get("f") and "{" in body:
            out.append((body[:body.index("{")], True))
        elif m["plus"]:
            out.append((body, True))
        else:
            out.append((body, False))
    return [(k, p) for k, p in out if k]  # f"{ns}.{key}": nothing literal to check


def used_keys() -> list[tuple[str, str, bool]]:
    """(where, key or prefix, is_prefix) over the Python and the page scripts."""
    found = []
    py = [p for d in ("dashboard", "layouts", "callbacks") for p in (ROOT / d).rglob("*.py")] + [ROOT / "run.py"]
    for path in py:
        found += [(str(path.relative_to(ROOT)), k, p) for k, p in uses(PY_CALL, path.read_text(encoding="utf-8"))]
    for path in sorted((ROOT / "dashboard" / "assets").glob("*.js")):
        if path.name.endswith(".min.js"):
            continue  # vendored
        found += [(path.name, k, p) for k, p in uses(JS_CALL, path.read_text(encoding="utf-8"))]
    return found


def test_the_extractor_finds_literal_and_built_keys():
    assert uses(PY_CALL, """t("wall.title", lang) + t(f"wall.kpi.{k}", lang) + t('x.' + y) + fmt(f"{ns}.{k}")""") == [
        ("wall.title", False), ("wall.kpi.", True), ("x.", True)]
    assert uses(JS_CALL, """this.tx("wall.status." + s, s); tx("m.online"); tx(p, 'cov.none'); ctx("no.key")""") == [
        ("wall.status.", True), ("m.online", False), ("cov.none", False)]
    assert uses(JS_CALL, """(t["wall.hover.fix"] || "") + self.t["console.tl." + k] + st["delete"]""") == [
        ("wall.hover.fix", False), ("console.tl.", True)]
    assert uses(JS_CALL, """T["call.search_none"] + r["map.center"]""") == [("call.search_none", False)]
    found = used_keys()
    assert len({k for _, k, p in found if not p}) > 200, "the extractor finds almost nothing: has the lookup changed?"
    assert any(w.endswith(".js") for w, _, _ in found) and any(w.endswith(".py") for w, _, _ in found)


def test_every_catalogue_entry_has_both_languages():
    incomplete = {k: v for k, v in catalogue().items() if any(not (v.get(lang) or "").strip() for lang in LANGS)}
    assert not incomplete, f"{len(incomplete)} keys lack a language: {sorted(incomplete)[:10]}"


@pytest.mark.parametrize("kind", ["exact", "prefix"])
def test_every_key_used_exists(kind):
    keys = catalogue()
    if kind == "exact":
        missing = sorted({(k, w) for w, k, p in used_keys() if not p and k not in keys})
    else:
        missing = sorted({(k, w) for w, k, p in used_keys() if p and not any(x.startswith(k) for x in keys)})
    assert not missing, f"{len(missing)} keys used but not in dashboard/i18n/*.json: {missing[:20]}"


def test_every_value_of_a_shown_enum_has_its_text():
    """The pages look up ``case.state.<state>``, ``duty.<state>``, ``alert.state.<state>``, ``case.source.<source>``
    and ``priority.<1..4>`` with a value from the data: a new value without its text shows the raw value."""
    from dashboard.models.enums import AlertState, CaseSource, CaseState, DutyState

    keys = catalogue()
    families = {"case.state": CaseState, "duty": DutyState, "alert.state": AlertState, "case.source": CaseSource}
    missing = [f"{prefix}.{m.value}" for prefix, enum in families.items() for m in enum if f"{prefix}.{m.value}" not in keys]
    missing += [f"priority.{p}" for p in range(1, 5) if f"priority.{p}" not in keys]
    assert not missing, f"texts missing for {missing}"


# label("case.state", x) in Python, GCDom.label("alert.kind", x) in the page scripts (not SQLAlchemy's
# column.label("n")): the family must be one the
# catalogue lists every value of (dashboard/i18n ENUM_VALUES), or a value would show as nothing
LABEL_CALL = re.compile(r"""(?:(?<![\w.])|GCDom\.)label\(\s*(?P<q>["'])(?P<family>[a-z_.]+)(?P=q)""")


def test_every_label_family_used_is_listed():
    from dashboard.i18n import ENUM_VALUES

    py = [p for d in ("dashboard", "layouts", "callbacks") for p in (ROOT / d).rglob("*.py")]
    js = [p for p in (ROOT / "dashboard" / "assets").glob("*.js") if not p.name.endswith(".min.js")]
    used = {(m["family"], p.name) for p in py + js for m in LABEL_CALL.finditer(p.read_text(encoding="utf-8"))}
    assert used, "no label() use found: has the lookup changed?"
    unknown = sorted((f, w) for f, w in used if f not in ENUM_VALUES)
    assert not unknown, f"label() families not in ENUM_VALUES: {unknown}"
