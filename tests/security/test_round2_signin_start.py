"""Issue 25 item 9 (part): no open redirect after sign-in, a password reset meets the strength rule, production
refuses to start without a secret key, and ``run.py prod`` starts gunicorn through this Python."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from dashboard.models import User
from dashboard.services.users import hash_password
from tests.conftest import ROOT, free_port


@pytest.mark.parametrize("value", [
    "/\\evil.example", "//evil.example", "\\\\evil.example", "/%5cevil.example", "/%5Cevil.example",
    "/%255cevil.example", "/%2f/evil.example", "/\t/evil.example", "/\n/evil.example", "http://evil.example/",
    "https:evil.example", "javascript:alert(1)", "evil.example", "", None, pytest.param("/" + "a" * 3000, id="long"),
])
def test_next_never_leaves_the_site(value):
    from dashboard.principal import safe_next_path
    from layouts.login import safe_next

    assert safe_next_path(value) == "/"
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/wall", "/console?lang=en&case=12", "/briefing#top", "/m/tasks"])
def test_next_keeps_a_path_of_this_server(value):
    from layouts.login import safe_next

    assert safe_next(value) == value


@pytest.mark.parametrize("search", ["?next=/%5Cevil.example", "?next=%2F%5Cevil.example", "?next=//evil.example"])
def test_the_login_page_carries_only_a_safe_next(search):
    """The page the browser runs: 06-login.js goes to the form's data-next after signing in."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    from layouts.app import page_for

    page = json.dumps(page_for("/login", search, services=None), cls=PlotlyJSONEncoder)
    assert '"data-next": "/"' in page and "evil.example" not in page


def test_a_password_reset_meets_the_strength_rule(world):
    with world.services.db.write() as s:
        u = User(username="reset-me", display_name="r", role="leader", password_hash=hash_password("a fine secret 1"))
        s.add(u)
        s.flush()
        uid, before = u.id, u.password_hash
    admin = world.client("admin")
    for weak in ("123", "1234567890123", "aaaaaaaaaaaa"):
        r = admin.patch(f"/api/v1/users/{uid}", json={"password": weak})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "password", weak
    r = admin.patch(f"/api/v1/users/{uid}", json={"password": 1234567890})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "password"
    with world.services.db.read() as s:
        assert s.scalar(select(User.password_hash).where(User.id == uid)) == before  # unchanged
    assert admin.patch(f"/api/v1/users/{uid}", json={"password": "a strong new secret 5"}).status_code == 200


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GC_")}
    return {**env, "GC_DATA_DIR": str(tmp_path / "var"), **extra}


def test_production_serve_refuses_without_a_secret_key(tmp_path):
    argv = [sys.executable, str(ROOT / "run.py"), "--port", str(free_port()), "--no-sim", "--db",
            f"sqlite:///{tmp_path / 'p.db'}"]
    try:
        r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env=clean_env(tmp_path, GC_PRODUCTION="1", GC_ALLOWED_HOSTS="cmd.example.internal"))
    except subprocess.TimeoutExpired:
        pytest.fail("GC_PRODUCTION=1 python run.py started serving without GC_SECRET_KEY")
    assert r.returncode != 0
    assert "GC_SECRET_KEY" in r.stderr and "refusing to start in production" in r.stderr
    assert "Traceback" not in r.stderr


def test_run_py_prod_starts_gunicorn_through_this_python(tmp_path, monkeypatch):
    """Without the venv's bin on PATH ``gunicorn`` is not found; ``python -m gunicorn`` always is."""
    import run
    from dashboard.config import Settings

    seen = {}

    def fake_exec(file, argv, env):
        seen.update(file=file, argv=argv, env=env)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execvpe", fake_exec)
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = Settings.from_env({"GC_SECRET_KEY": "k" * 32, "GC_ALLOWED_HOSTS": "cmd.example.internal"},
                                 db_url=f"sqlite:///{tmp_path / 'g.db'}", data_dir=tmp_path / "var",
                                 port=free_port(), simulate=False)
    with pytest.raises(SystemExit):
        run.prod(settings, 1, 4)
    assert seen["file"] == sys.executable
    assert seen["argv"][:3] == [sys.executable, "-m", "gunicorn"]
    assert seen["argv"][-1] == "wsgi:app"
