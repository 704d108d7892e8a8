"""``python run.py`` as a user runs it: subcommands, one-line errors, and the live demo street."""
from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import sys
import time

import requests

from tests.conftest import ROOT


def _start(tmp_path, *args: str) -> subprocess.Popen:
    env = {"GC_DATA_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1",
           "HOME": str(tmp_path)}
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(tmp_path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    p = _start(tmp_path, *args)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def _one_line_error(rc: int, err: str, *words: str) -> str:
    """Exit code 2 and exactly one line on stderr: 'error: ...', no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _count(db, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_init_seed_and_api_key(tmp_path):
    db = tmp_path / "cli.db"
    url = f"sqlite:///{db}"
    rc, out, err = _run(tmp_path, "--db", url, "init-db")
    assert rc == 0 and "up to date" in out, err
    assert _count(db, "grid") == 0
    rc, out, err = _run(tmp_path, "--db", url, "seed-demo")
    assert rc == 0, err
    assert (_count(db, "grid"), _count(db, "worker")) == (301, 490)
    # the second seed, a good key and a bad role at the same time (no writes collide: each is short)
    again = _start(tmp_path, "--db", url, "seed-demo")
    key = _start(tmp_path, "--db", url, "create-api-key", "--name", "x", "--role", "integration")
    bad_role = _start(tmp_path, "--db", url, "create-api-key", "--name", "y", "--role", "superuser")
    _, err = again.communicate(timeout=120)
    _one_line_error(again.returncode, err, "already")
    out, err = key.communicate(timeout=120)
    assert key.returncode == 0, err
    plain = out.strip().splitlines()[-1]
    assert plain.startswith("gc_") and len(plain) > 30
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT name, role FROM api_key WHERE key_hash = ?",
                           (hashlib.sha256(plain.encode()).hexdigest(),)).fetchone()
    assert row == ("x", "integration")
    _, err = bad_role.communicate(timeout=120)
    _one_line_error(bad_role.returncode, err, "role", "superuser")
    assert (_count(db, "grid"), _count(db, "worker"), _count(db, "api_key")) == (301, 490, 1)


def test_bad_inputs_give_one_line_errors(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'e.db'}"
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "A"},'
                   ' "geometry": {"type": "Point", "coordinates": [108.95, 34.26]}}]}')
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"\x00not a geopackage")
    (tmp_path / "adir").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        procs = {
            "bad_grids": _start(tmp_path, "--db", db_url, "import-grids", str(bad)),
            "junk_grids": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'e2.db'}", "import-grids", str(junk)),
            "no_file": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'e3.db'}", "import-workers",
                              str(tmp_path / "missing.csv")),
            "port": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'p.db'}", "--port", str(port), "--no-sim"),
            "dir_db": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'adir'}", "init-db"),
            "proc_db": _start(tmp_path, "--db", "sqlite:////proc/nonexistent/x.db", "init-db"),
        }
        results = {k: (p.communicate(timeout=120), p.returncode) for k, p in procs.items()}
    words = {"bad_grids": [str(bad), "community_code"], "junk_grids": [str(junk), "cannot read"],
             "no_file": ["missing.csv", "not found"], "port": [str(port), "in use"],
             "dir_db": ["cannot open the database", "adir"], "proc_db": ["cannot open the database", "/proc"]}
    for k, ((out, err), rc) in results.items():
        _one_line_error(rc, err, *words[k])


def test_python_run_py_serves_the_live_demo_street(live_server):
    """The README's first command: /healthz within 20 s, 301 grids / 490 workers, positions and cases arriving.

    Shifts follow the real clock in Asia/Shanghai; the night shift (22–06) means someone is always on,
    and a high case rate makes cases appear within seconds at any hour.
    """
    t0 = time.monotonic()
    srv = live_server("--sim-speed", "20", env={"GC_SIM_CASES_PER_DAY": "200000"})
    assert time.monotonic() - t0 < 20
    health = requests.get(srv.url + "/healthz", timeout=5).json()
    assert (health["status"], health["grids"], health["workers"]) == ("ok", 301, 490)
    assert health["simulator"] is True
    after = 0
    for window in range(2):  # they keep arriving: both kinds in two successive windows
        seen: set[str] = set()
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and not {"positions", "case"} <= seen:
            body = requests.get(srv.url + f"/api/v1/events?after={after}&limit=5000", timeout=5).json()
            for m in body["events"]:
                assert m["seq"] > after
                after = m["seq"]
                seen.add(m["type"])
            time.sleep(0.5)
        assert {"positions", "case"} <= seen, (window, seen, srv.log()[-2000:])
    assert "Traceback" not in srv.log()
