"""Issue 25 item 1: DNS rebinding against the demo. A page on an attacker's name that resolves to 127.0.0.1
sends a forged ``Host`` with a matching ``Origin``; such a request must be refused (400) before anything runs,
Socket.IO included, and a demo-operator request that changes state needs the CSRF token of a page we served."""
from __future__ import annotations

import pytest

from dashboard.config import Settings
from tests.utils.factories import grid_center, make_district

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def demo_app(tmp, extra: dict | None = None, **kw):
    from dashboard.app import create_app
    from dashboard.db import migrate

    settings = Settings.from_env({}, db_url=f"sqlite:///{tmp / 'hosts.db'}", data_dir=tmp / "var", simulate=False,
                                 port=8050, **kw)
    settings = settings.with_(extra={"GC_RATE_LOGIN": "off", **(extra or {})})
    app, services = create_app(settings)
    migrate(services.db.engine)
    return app, services


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from dashboard.models import Grid
    from dashboard.services.cases import CaseReport, report_case

    app, services = demo_app(tmp_path_factory.mktemp("hosts"))
    with services.db.write() as s:
        d = make_district(s)
        gid = d["grids"][0].id
    services.reload_grids()
    with services.db.write() as s:
        lat, lon = grid_center(s.get(Grid, gid))
        c, _ = report_case(s, CaseReport(category_code="0601", description="来电", lat=lat, lon=lon,
                                         source="hotline", reporter_name="王小明", reporter_phone="13700001111"),
                           locator=services.locator)
        s.flush()
        case_id = c.id
    yield app, services, case_id
    services.shutdown()


def unmask_body(case_id: int) -> dict:
    return {"kind": "case", "id": case_id, "field": "reporter_phone", "reason": "rebinding probe"}


def test_a_forged_host_with_a_matching_origin_is_refused(demo):
    app, _, case_id = demo
    c = app.test_client()
    r = c.post("/api/v1/unmask", json=unmask_body(case_id), environ_base=LOCAL,
               headers={"Host": "rebind.attacker.example:8050", "Origin": "http://rebind.attacker.example:8050"})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["error"]["field"] == "Host"
    assert "13700001111" not in r.get_data(as_text=True)
    # before any handler or Flask hook: the live channel and plain pages too
    r = c.get("/socket.io/?EIO=4&transport=polling", environ_base=LOCAL, headers={"Host": "rebind.attacker.example"})
    assert r.status_code == 400 and r.is_json
    r = c.get("/healthz", environ_base=LOCAL, headers={"Host": "127.0.0.1.attacker.example:8050"})
    assert r.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1:8050", "localhost:8050", "[::1]:8050", "localhost", "LOCALHOST:8050"])
def test_the_demo_answers_on_this_machine_s_names(demo, host):
    app, _, _ = demo
    assert app.test_client().get("/healthz", environ_base=LOCAL, headers={"Host": host}).status_code == 200


def test_another_port_on_a_loopback_name_is_refused(demo):
    app, _, _ = demo
    assert app.test_client().get("/healthz", environ_base=LOCAL, headers={"Host": "127.0.0.1:9999"}).status_code == 400


def test_the_demo_operator_needs_the_csrf_token_to_change_state(demo):
    app, _, case_id = demo
    c = app.test_client()
    host = {"Host": "127.0.0.1:8050"}
    r = c.post("/api/v1/unmask", json=unmask_body(case_id), environ_base=LOCAL, headers=host)
    assert r.status_code == 403, r.get_data(as_text=True)
    assert r.get_json()["error"]["field"] == "X-CSRF-Token"
    c.get("/healthz", environ_base=LOCAL, headers=host)  # any answer hands out the token cookie
    token = c.get_cookie("gc_csrf", domain="127.0.0.1").value
    r = c.post("/api/v1/unmask", json=unmask_body(case_id), environ_base=LOCAL, headers={**host, "X-CSRF-Token": "x"})
    assert r.status_code == 403
    r = c.post("/api/v1/unmask", json=unmask_body(case_id), environ_base=LOCAL, headers={**host, "X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["value"] == "13700001111"
    # reading stays open to the demo operator without a token
    assert c.get("/api/v1/cases", environ_base=LOCAL, headers=host).status_code == 200


def test_configured_hosts_replace_the_defaults(tmp_path):
    app, services = demo_app(tmp_path, extra={"GC_ALLOWED_HOSTS": "gridcommand.example.internal, 10.0.0.11:8050"})
    try:
        c = app.test_client()
        for host, code in (("gridcommand.example.internal", 200), ("GridCommand.example.internal:443", 200),
                           ("10.0.0.11:8050", 200), ("10.0.0.11:80", 400), ("localhost", 400),
                           ("evil.example", 400)):
            assert c.get("/healthz", headers={"Host": host}).status_code == code, host
    finally:
        services.shutdown()


def test_production_must_name_its_hosts():
    from server import production_problems

    base = {"GC_PRODUCTION": "1", "GC_SECRET_KEY": "k" * 32}
    assert any("GC_ALLOWED_HOSTS" in p for p in production_problems(Settings.from_env(base)))
    assert production_problems(Settings.from_env({**base, "GC_ALLOWED_HOSTS": "cmd.example.internal"})) == []
