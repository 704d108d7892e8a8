"""Under CI a PostgreSQL or Redis test cannot pass by skipping: it fails and names the missing service.

Runs pytest on two real marked tests with both services pointed at a closed port (port 1), once as CI and once as
a developer's box, where the same tests skip and say why.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # two pytest runs in subprocesses

TESTS = ["tests/unit/test_ratelimit.py::test_two_processes_share_the_sign_in_budget_but_not_device_fixes",
         "tests/unit/test_migrations.py::test_models_match_migrations[postgresql]"]
CLOSED = {"GC_TEST_PG_URL": "postgresql+psycopg://postgres@127.0.0.1:1/test", "GC_TEST_REDIS_URL": "redis://127.0.0.1:1/0"}


def run_pytest(ci: str | None) -> subprocess.CompletedProcess:
    # not CI, and none of an xdist worker's PYTEST_* variables: a plugin such as pytest-benchmark reads them as
    # "xdist is active" and its warning became the child's last line
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")} | CLOSED
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_under_ci_a_skip_is_a_failure_naming_the_service():
    r = run_pytest("true")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    assert "needs Redis (GC_TEST_REDIS_URL)" in out and "Redis not reachable at redis://127.0.0.1:1/0" in out
    assert "needs PostgreSQL (GC_TEST_PG_URL)" in out and "PostgreSQL not reachable at" in out
    assert "skipped" not in out.splitlines()[-1], out.splitlines()[-1]


def test_on_a_developer_box_they_skip_saying_why():
    r = run_pytest(None)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "2 skipped" in out.splitlines()[-1] and "Redis not reachable" in out and "PostgreSQL not reachable" in out
