"""``python run.py`` as a user runs it: subcommands, one-line errors, and the live demo street."""
from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

import requests

from dashboard.simulator import HOUR_CURVE
from dashboard.timeutil import SHANGHAI
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


def test_subcommands_and_one_line_errors(tmp_path):
    """init-db, seed-demo (twice), create-api-key, and every bad input: exit 2 with one 'error:' line.

    Independent commands run side by side to keep the test short.
    """
    db = tmp_path / "cli.db"
    url = f"sqlite:///{db}"
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
        seed = _start(tmp_path, "--db", url, "seed-demo")
        init = _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'init.db'}", "init-db")
        procs = {
            "bad_grids": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'e1.db'}", "import-grids", str(bad)),
            "junk_grids": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'e2.db'}", "import-grids", str(junk)),
            "no_file": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'e3.db'}", "import-workers",
                              str(tmp_path / "missing.csv")),
            "port": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'p.db'}", "--port", str(port), "--no-sim"),
            "dir_db": _start(tmp_path, "--db", f"sqlite:///{tmp_path / 'adir'}", "init-db"),
            "proc_db": _start(tmp_path, "--db", "sqlite:////proc/nonexistent/x.db", "init-db"),
        }
        results = {k: (p.communicate(timeout=180), p.returncode) for k, p in procs.items()}
    words = {"bad_grids": [str(bad), "community_code"], "junk_grids": [str(junk), "cannot read"],
             "no_file": ["missing.csv", "not found"], "port": [str(port), "in use"],
             "dir_db": ["cannot open the database", "adir"], "proc_db": ["cannot open the database", "/proc"]}
    for k, ((out, err), rc) in results.items():
        _one_line_error(rc, err, *words[k])

    out, err = init.communicate(timeout=180)
    assert init.returncode == 0 and "up to date" in out, err
    assert _count(tmp_path / "init.db", "grid") == 0 and _count(tmp_path / "init.db", "alembic_version") >= 1
    out, err = seed.communicate(timeout=180)
    assert seed.returncode == 0, err
    assert (_count(db, "grid"), _count(db, "worker")) == (301, 490)

    again = _start(tmp_path, "--db", url, "seed-demo")
    key = _start(tmp_path, "--db", url, "create-api-key", "--name", "x", "--role", "integration")
    bad_role = _start(tmp_path, "--db", url, "create-api-key", "--name", "y", "--role", "superuser")
    _, err = again.communicate(timeout=180)
    _one_line_error(again.returncode, err, "already")
    out, err = key.communicate(timeout=180)
    assert key.returncode == 0, err
    plain = out.strip().splitlines()[-1]
    assert plain.startswith("gc_") and len(plain) > 30
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT name, role FROM api_key WHERE key_hash = ?",
                           (hashlib.sha256(plain.encode()).hexdigest(),)).fetchone()
    assert row == ("x", "integration")
    _, err = bad_role.communicate(timeout=180)
    _one_line_error(bad_role.returncode, err, "role", "superuser")
    assert (_count(db, "grid"), _count(db, "worker"), _count(db, "api_key")) == (301, 490, 1)


def test_python_run_py_serves_the_live_demo_street(live_server):
    """The README's first command: /healthz within 20 s, 301 grids / 490 workers, positions and cases arriving.

    Shifts follow the real clock in Asia/Shanghai; the night shift (22–06) means someone is always on,
    and the case rate is set from the hour's curve so cases appear about once a second at any hour
    (much more would swamp the simulator's ticks).
    """
    t0 = time.monotonic()
    # about one case per second whatever the hour (the rate follows the time-of-day curve)
    hour = datetime.now(SHANGHAI).hour
    per_day = int(86400 / (24 * HOUR_CURVE[hour] / sum(HOUR_CURVE)) / 20) + 1
    srv = live_server("--sim-speed", "20", env={"GC_SIM_CASES_PER_DAY": str(per_day)})
    # 20 s on an idle machine; when other jobs load the CPUs the bound stretches with the load
    bound = 20 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert time.monotonic() - t0 < bound
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
