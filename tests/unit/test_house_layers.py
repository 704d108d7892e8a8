"""The layers import one way (issue 30 item 7): the core (dashboard/ outside dashboard/api) never imports the
HTTP edge, so no import cycle runs through dashboard.api; who is calling is asked of dashboard.principal by the
HTTP edge, the live channel and the pages alike."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the one core module that assembles the app from its edges (it registers the API modules)
ASSEMBLERS = {"dashboard.app"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, text: str | None = None) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (absolute names)."""
    name, is_pkg = _module_name(path), path.name == "__init__.py"
    out: set[str] = set()
    source = path.read_text(encoding="utf-8") if text is None else text
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import api` imports dashboard.api
    return out


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py")) if "migrations" not in p.parts]


def _is_api(mod: str) -> bool:
    return mod == "dashboard.api" or mod.startswith("dashboard.api.")


def test_the_import_reader_sees_an_import_of_the_edge():
    """The checks below can fail: the old import in realtime_calls.py, inside a function too, reads as the edge."""
    path = ROOT / "dashboard" / "realtime_calls.py"
    old = "from .api.auth import record_in_scope\ndef f():\n    from .api import errors\n"
    assert {"dashboard.api.auth", "dashboard.api.errors"} <= _imports(path, old)


def test_core_never_imports_the_http_edge():
    offenders = {}
    for path in _sources("dashboard"):
        mod = _module_name(path)
        if _is_api(mod) or mod in ASSEMBLERS:
            continue
        hits = sorted(m for m in _imports(path) if _is_api(m))
        if hits:
            offenders[mod] = hits
    assert offenders == {}, f"core modules import the HTTP edge (move what they need into the core): {offenders}"


def test_no_import_cycle_through_the_api_layer():
    """With dashboard.api.* taken as one node, nothing it imports leads back to it (the old cycle was
    api/calls.py → realtime_calls.py → api/auth.py)."""
    graph: dict[str, set[str]] = {}
    for path in _sources("dashboard"):
        mod = _module_name(path)
        node = "dashboard.api" if _is_api(mod) else mod
        if mod in ASSEMBLERS:
            continue
        targets = {"dashboard.api" if _is_api(m) else m for m in _imports(path) if m.startswith("dashboard")}
        graph.setdefault(node, set()).update(targets - {node})
    seen, stack = set(), list(graph.get("dashboard.api", ()))
    while stack:
        mod = stack.pop()
        if mod == "dashboard.api":
            raise AssertionError("an import path leads from dashboard.api back into dashboard.api")
        if mod not in seen:
            seen.add(mod)
            stack.extend(graph.get(mod, ()))


def test_pages_and_callbacks_ask_the_core_who_is_calling():
    offenders = {_module_name(p): sorted(m for m in _imports(p) if m.startswith("dashboard.api.auth"))
                 for p in _sources("layouts", "callbacks")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_live_channel_loads_without_the_http_edge():
    """Importing the socket side (and the pages' principal lookup) loads no dashboard.api module at all."""
    code = ("import sys, dashboard.realtime, dashboard.realtime_calls, dashboard.live_guard, layouts.access;"
            "print(sorted(m for m in sys.modules if m.startswith('dashboard.api')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_principal_for_every_edge():
    import dashboard.api.auth as http_auth
    import dashboard.live_guard as live_guard
    import dashboard.principal as core
    import dashboard.realtime as realtime
    import dashboard.realtime_calls as realtime_calls
    import layouts.access as access

    for mod in (http_auth, live_guard, realtime, realtime_calls, access):
        assert mod.resolve_principal is core.resolve_principal, mod.__name__
    assert access.Principal is core.Principal


def test_core_knows_nothing_of_the_ui_or_the_entry_points():
    """dashboard/ imports neither the pages and callbacks nor run.py, server.py or wsgi.py (issue 30 item 11: the
    WSGI entry imported run.py to assemble the app)."""
    outside = ("layouts", "callbacks", "run", "server", "wsgi")
    offenders = {_module_name(p): hits for p in _sources("dashboard")
                 if (hits := sorted(m for m in _imports(p) if m.split(".")[0] in outside))}
    assert offenders == {}


def test_the_entry_points_share_the_assembly_not_each_other():
    assert not any(m.split(".")[0] == "run" for m in _imports(ROOT / "wsgi.py"))
    assert "server.build_server" in _imports(ROOT / "wsgi.py")
    assert "server.build_server" in _imports(ROOT / "run.py")


def test_pages_are_one_literal():
    """layouts/app.py names every page in one dict literal: no later ``PAGES[...] =`` or ``PAGES.update`` between
    imports (issue 30 item 11), so a reader sees the whole app's paths at once."""
    tree = ast.parse((ROOT / "layouts" / "app.py").read_text(encoding="utf-8"))
    assigned = [n for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                and "PAGES" in {t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                                if isinstance(t, ast.Name)}]
    assert len(assigned) == 1 and isinstance(assigned[0].value, ast.Dict)
    mutations = [n.lineno for n in ast.walk(tree)
                 if (isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
                     and isinstance(n.value, ast.Name) and n.value.id == "PAGES")
                 or (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "PAGES"
                     and n.attr in ("update", "setdefault", "pop"))]
    assert mutations == []
    from layouts.app import PAGES

    assert {"/", "/wall", "/console", "/m", "/login"} <= set(PAGES)


# Layout modules that still run their own SQL (issue 30 item 8), left while others edit them: move each one's reads
# into a service taking the caller's scope, then take it off this list (the test below fails until you do).
SQL_IN_LAYOUTS_PENDING: set[str] = set()


def _runs_sql(path: Path, text: str | None = None) -> list[str]:
    """The database modules ``path`` imports: sqlalchemy (any part of it) or dashboard.db."""
    return sorted({"sqlalchemy" if m.split(".")[0] == "sqlalchemy" else "dashboard.db" for m in _imports(path, text)
                   if m.split(".")[0] == "sqlalchemy" or m == "dashboard.db" or m.startswith("dashboard.db.")})


def test_layouts_run_no_sql():
    """Pages get their data from services (dashboard/services/*) that take the caller's scope: no layouts/ module
    imports sqlalchemy or dashboard.db."""
    offenders = {_module_name(p): hits for p in _sources("layouts") if (hits := _runs_sql(p))}
    assert set(offenders) - SQL_IN_LAYOUTS_PENDING == set(), offenders
    done = SQL_IN_LAYOUTS_PENDING - set(offenders)
    assert done == set(), f"{done} run no SQL any more: take them off SQL_IN_LAYOUTS_PENDING"


def test_the_sql_check_sees_a_query_import():
    home = ROOT / "layouts" / "home.py"
    assert _runs_sql(home, "from sqlalchemy import func, select\n") == ["sqlalchemy"]
    assert _runs_sql(home, "def f():\n    from dashboard.db import read\n") == ["dashboard.db"]
    assert _runs_sql(home, "from dashboard import db\n") == ["dashboard.db"]


# dashboard/api modules whose routes are a Blueprint with module-level views (issue 30 item 9; every module with
# routes is one now — test_no_api_module_defines_views_inside_register below holds the new ones to it too)
BLUEPRINT_MODULES = {"admin_devices", "admin_users", "admin_workers", "alerts", "briefing", "calls", "cameras", "cases_ops",
                     "departments", "devices", "field", "field_people", "governance", "osmand", "grids_detail", "health", "live",
                     "open311", "openapi", "session", "tours", "wall"}


def _views_in_register(path: Path, text: str | None = None) -> list[str]:
    """Functions defined inside ``register`` with a route decorator (``route``, ``.get(``, ``.post(`` …)."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    verbs = ("route", ".get(", ".post(", ".put(", ".patch(", ".delete(")
    return [n.name for top in tree.body if isinstance(top, ast.FunctionDef) and top.name == "register"
            for n in ast.walk(top) if isinstance(n, ast.FunctionDef) and n is not top
            and any(v in ast.unparse(d) for d in n.decorator_list for v in verbs)]


def test_no_api_module_defines_views_inside_register():
    """No dashboard/api module (a new one included) serves its routes from closures inside register()."""
    offenders = {p.stem: hits for p in sorted((ROOT / "dashboard" / "api").glob("*.py"))
                 if (hits := _views_in_register(p))}
    assert offenders == {}
    closure = "def register(app, services):\n    @app.patch('/x')\n    def x():\n        pass\n"
    assert _views_in_register(ROOT / "dashboard" / "api" / "x.py", closure) == ["x"]  # the check can fail


@pytest.mark.parametrize("name", sorted(BLUEPRINT_MODULES))
def test_api_module_is_a_blueprint_of_module_level_views(name):
    import importlib

    from flask import Blueprint

    mod = importlib.import_module(f"dashboard.api.{name}")
    assert isinstance(mod.bp, Blueprint)
    tree = ast.parse((ROOT / "dashboard" / "api" / f"{name}.py").read_text(encoding="utf-8"))
    nested_views = [n.name for top in tree.body if isinstance(top, ast.FunctionDef) and top.name == "register"
                    for n in ast.walk(top) if isinstance(n, ast.FunctionDef) and n is not top
                    and any("route" in ast.unparse(d) or ".get(" in ast.unparse(d) or ".post(" in ast.unparse(d)
                            for d in n.decorator_list)]
    assert nested_views == [], f"views defined inside a function: {nested_views}"
