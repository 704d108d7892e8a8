"""One typed settings object (issue 30 item 10): every GC_* variable declared once in dashboard/config.py with its
type, default and meaning; a bad value stops the start naming the variable; README's table is generated from it."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from dashboard.config import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from settings_table import readme_table  # noqa: E402


@pytest.mark.parametrize("name, bad", [
    ("GC_PORT", "eighty"), ("GC_PORT", "70000"), ("GC_SOCKET_MAX", "lots"), ("GC_RATE_LOGIN", "ten a minute"),
    ("GC_TRUSTED_PROXIES", "yes"), ("GC_TILE_CRS", "bd09"), ("GC_CSP", "strict"), ("GC_SIM_WORKER_TROUBLE", "1.5"),
    ("GC_AUDIT_RETENTION_DAYS", "30"), ("GC_CAMERA_STREAM_MAX_S", "inf"), ("GC_RULE_NO_ACK_MINUTES", "soon"),
    ("GC_TIMEZONE", "Mars/Olympus"), ("GC_BRIEF_AT", "7am"), ("GC_SESSION_IDLE_MIN", "-1"),
])
def test_a_bad_value_stops_the_start_naming_the_variable(name, bad):
    with pytest.raises(SettingsError, match=name) as e:
        Settings.from_env({name: bad})
    assert repr(bad)[:20] in str(e.value)
    assert isinstance(e.value, SystemExit)  # uncaught, it ends the process rather than serving half-configured


def test_run_py_refuses_to_start_with_a_bad_value_and_says_which():
    env = {**os.environ, "GC_SOCKET_PER_KEY": "many"}
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "--no-sim", "--port", "1"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "GC_SOCKET_PER_KEY" in r.stderr and "Traceback" not in r.stderr


def test_values_are_typed_once():
    s = Settings.from_env({"GC_SOCKET_MAX": "off", "GC_PRODUCTION": "1", "GC_TILE_CRS": "GCJ02", "GC_PORT": "8060",
                           "GC_RATE_LOGIN": "5/300", "GC_RULE_SPIKE_MIN_CASES": "7", "GC_SIM_SPEED": ""})
    assert (s.socket_max, s.production, s.demo, s.tile_crs, s.port) == (None, True, False, "gcj02", 8060)
    assert (s.rate_login, s.rule_spike_min_cases, s.sim_speed) == ("5/300", 7, 1.0)  # empty = unset
    assert Settings.from_env({}).demo is True
    assert Settings.from_env({"GC_DATA_DIR": "/srv/gc"}).db_url == "sqlite:////srv/gc/gridcommand.db"
    assert Settings.from_env({"GC_PORT": "8060"}, port=9000).port == 9000  # the command line wins
    changed = s.with_(extra={"GC_TRUSTED_PROXIES": "1"}, simulate=False)
    assert (changed.trusted_proxies, changed.simulate, changed.port) == (1, False, 8060)
    with pytest.raises(SettingsError, match="GC_TRUSTED_PROXIES"):
        s.with_(extra={"GC_TRUSTED_PROXIES": "two"})
    with pytest.raises(SettingsError, match="GC_NO_SUCH"):
        s.with_(extra={"GC_NO_SUCH": "1"})


def test_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table(readme) == Settings.markdown_table(), \
        "README's configuration table is stale: python scripts/settings_table.py --write"


def test_every_declared_setting_has_a_meaning():
    assert [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()] == []


def _gc_names_in_code() -> set[str]:
    names = set()
    for pkg in ("dashboard", "layouts", "callbacks"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts or path.name == "config.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("GC_") \
                        and node.value.rstrip("_") == node.value and node.value.isupper():
                    names.add(node.value)
    return names


def test_every_gc_variable_the_code_names_is_declared():
    """A GC_* name in a string of the code is a declared setting (run.py sets some for gunicorn's workers)."""
    undeclared = sorted(_gc_names_in_code() - set(Settings.env_names()))
    assert undeclared == []


def test_rule_settings_default_to_the_rules_own_defaults():
    from dashboard.services.rules import RuleConfig

    for f in fields(RuleConfig):
        if f.name == "time_scale":
            continue
        assert Settings.model_fields[f"rule_{f.name}"].default == f.default, f.name
