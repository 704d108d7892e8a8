"""Access control: every HTTP endpoint and every Socket.IO event × every role, from the table below.

The server runs production-like (demo off). Each role speaks through its own API key
(resolve_principal treats a key's role like a signed-in user's; the session path, CSRF
and the display cookie are covered in test_hardening.py). "allowed" means past the
door: any status but 401/403 (a 404/422 on the sample id or empty body is fine).
A new endpoint without a row here fails ``test_every_endpoint_is_in_the_table``.
"""
from __future__ import annotations

import pytest

from dashboard import events
from tests.security.matrix_probe import ROLES, allowed, endpoints, probe

ALL = set(ROLES)
ANY_ROLE = ALL - {"anonymous"}
OPS = {"admin", "dispatcher", "dispatcher_a"}
ADMIN = {"admin"}
VIEW = OPS | {"leader", "display"}                     # wall and leader screens
READ = OPS | {"leader", "worker", "integration"}        # case readers
WRITE = OPS | {"worker", "integration"}                # reporters
NOBODY: set[str] = set()

EXPECTED: dict[tuple[str, str], set[str]] = {
    # Dash pages and their plumbing: the shell and scripts are public; private pages redirect an anonymous
    # visitor to /login (a 302 is past this door: tests/security/test_pages_access.py checks where it goes);
    # the callback door admits anonymous callers only for the page router (the probe's empty body is not it)
    ("/", "GET"): ALL, ("/<path:path>", "GET"): ALL, ("/_dash-layout", "GET"): ALL,
    ("/_dash-dependencies", "GET"): ALL, ("/_dash-update-component", "POST"): ANY_ROLE, ("/_favicon.ico", "GET"): ALL,
    ("/_reload-hash", "GET"): ALL, ("/assets/<path:filename>", "GET"): ALL, ("/static/<path:filename>", "GET"): ALL,
    ("/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>", "GET"): ALL,
    ("/_dash-component-suites/plotly/package_data/plotly.min.js", "GET"): ALL,  # the partial bundle (layouts/app.py)
    ("/vendor/<path:name>", "GET"): ALL, ("/healthz", "GET"): ALL, ("/api/v1/openapi.json", "GET"): ALL,
    # sign-in
    ("/auth/login", "POST"): ALL, ("/auth/logout", "POST"): ALL, ("/auth/me", "GET"): ALL,
    ("/auth/demo-worker", "POST"): NOBODY,          # demo mode only
    ("/auth/password", "POST"): NOBODY,             # signed-in users only (no API key has a password)
    # admin
    ("/api/v1/users", "GET"): ADMIN, ("/api/v1/users", "POST"): ADMIN, ("/api/v1/users/<int:user_id>", "PATCH"): ADMIN,
    ("/api/v1/api-keys", "GET"): ADMIN, ("/api/v1/api-keys", "POST"): ADMIN,
    ("/api/v1/api-keys/<int:key_id>", "DELETE"): ADMIN, ("/api/v1/audit", "GET"): ADMIN,
    ("/api/v1/categories/<code>", "PATCH"): ADMIN,
    ("/api/v1/departments", "POST"): ADMIN, ("/api/v1/departments/<int:department_id>", "PATCH"): ADMIN,
    ("/api/v1/departments/<int:department_id>", "DELETE"): ADMIN,
    ("/api/v1/departments", "GET"): OPS | {"leader"}, ("/api/v1/departments/<int:department_id>", "GET"): OPS | {"leader"},
    ("/api/v1/cases/<int:case_id>/triage", "POST"): OPS, ("/api/v1/categories/guess", "GET"): OPS,
    ("/api/v1/unmask", "POST"): OPS,
    # live
    ("/api/v1/events", "GET"): ANY_ROLE, ("/api/v1/snapshot", "GET"): ANY_ROLE,
    ("/api/v1/wall/stats", "GET"): VIEW, ("/api/v1/wall/grids", "GET"): VIEW, ("/api/v1/replay", "GET"): OPS | {"leader"}, ("/api/v1/briefing", "GET"): VIEW,
    ("/api/v1/briefing/export.<fmt>", "GET"): VIEW, ("/api/v1/indicators", "GET"): OPS | {"leader"},
    ("/api/v1/devices", "GET"): VIEW, ("/api/v1/devices/events", "POST"): NOBODY,  # signed by the device secret
    ("/api/v1/cameras", "GET"): VIEW, ("/cameras/<code>/mjpeg", "GET"): VIEW,
    ("/cameras/<code>/snapshot.jpg", "GET"): VIEW, ("/api/v1/cameras/<int:camera_id>/view", "GET"): VIEW,
    ("/api/v1/governance/targets", "GET"): OPS | {"leader"}, ("/api/v1/governance/targets/<key>", "PUT"): ADMIN,
    ("/api/v1/patrol/coverage", "GET"): VIEW, ("/api/v1/patrol/log", "GET"): VIEW,
    ("/api/v1/grids", "GET"): ANY_ROLE, ("/api/v1/grids/<int:grid_id>/register", "GET"): VIEW,
    ("/api/v1/categories", "GET"): READ, ("/api/v1/categories/tree", "GET"): ANY_ROLE,
    # alerts
    ("/api/v1/alerts", "GET"): VIEW, ("/api/v1/alerts/<int:alert_id>/acknowledge", "POST"): OPS,
    ("/api/v1/alerts/<int:alert_id>/dispatch", "POST"): OPS,
    ("/api/v1/alerts/<int:alert_id>/recommendations", "GET"): OPS,
    ("/api/v1/alerts/<int:alert_id>/resolve", "POST"): OPS, ("/api/v1/alerts/cap", "POST"): OPS | {"integration"},
    # cases
    ("/api/v1/cases", "GET"): READ, ("/api/v1/cases", "POST"): WRITE, ("/api/v1/cases/<int:case_id>", "GET"): READ,
    ("/api/v1/cases/<int:case_id>/actions/<action>", "POST"): OPS | {"worker"},
    ("/api/v1/cases/<int:case_id>/duplicates", "GET"): OPS, ("/api/v1/cases/<int:case_id>/merge", "POST"): OPS,
    ("/api/v1/cases/<int:case_id>/photos", "POST"): WRITE,
    ("/api/v1/cases/<int:case_id>/recommendations", "GET"): OPS,
    ("/api/v1/cases/<int:case_id>/view", "GET"): OPS | {"leader"},
    ("/api/v1/photos", "POST"): WRITE, ("/api/v1/photos/<int:photo_id>", "GET"): ANY_ROLE,
    ("/api/v1/photos/<int:photo_id>/thumb", "GET"): ANY_ROLE,
    # field
    ("/api/v1/me", "GET"): {"worker"}, ("/api/v1/me/tasks", "GET"): {"worker"},
    ("/api/v1/me/tasks/<int:case_id>/<action>", "POST"): {"worker"},
    ("/api/v1/positions", "POST"): WRITE, ("/api/v1/patrols/start", "POST"): WRITE,
    ("/api/v1/patrols/stop", "POST"): WRITE,
    ("/api/v1/workers", "GET"): OPS | {"integration"}, ("/api/v1/workers", "POST"): ADMIN | {"integration"},
    ("/api/v1/workers/<int:worker_id>/device-token", "POST"): ADMIN,
    ("/api/v1/workers/<int:worker_id>/device-token", "DELETE"): ADMIN,
    ("/api/v1/workers/<int:worker_id>", "PATCH"): ADMIN, ("/api/v1/workers/import", "POST"): ADMIN,
    ("/api/v1/grids/import", "POST"): ADMIN,  # the admin page's edits and imports (issue 28)
    ("/api/v1/devices/<int:device_pk>", "PATCH"): ADMIN, ("/api/v1/devices/<int:device_pk>/secret", "POST"): ADMIN,
    ("/api/v1/cameras/<int:camera_id>", "PATCH"): ADMIN,
    ("/api/v1/calls", "GET"): OPS | {"leader"}, ("/api/v1/calls/config", "GET"): OPS | {"worker"},
    ("/api/v1/governance/activities", "POST"): WRITE,
    ("/api/v1/governance/activities/import", "POST"): OPS | {"integration"},
    ("/api/v1/governance/indicators", "GET"): VIEW | {"worker"},
    ("/api/v1/governance/panel", "GET"): VIEW | {"worker"},
    # grid notices (issue 31): workers to their grids, the center to a community or the street; the residents'
    # page reads a grid's live notices and their pictures anonymously
    ("/api/v1/notices", "POST"): OPS | {"worker"}, ("/api/v1/notices", "GET"): OPS | {"leader", "worker"},
    ("/api/v1/notices/<int:notice_id>", "GET"): OPS | {"leader", "worker"},
    ("/api/v1/notices/<int:notice_id>/withdraw", "POST"): OPS | {"worker"}, ("/api/v1/notify/outbox", "GET"): ADMIN,
    ("/api/v1/r/grids/<int:grid_id>/notices", "GET"): ALL, ("/api/v1/r/notices/<int:notice_id>/picture", "GET"): ALL,
    # visits (走访) and residents' satisfaction (issue 31): a worker records hers, the centre may make a case of one
    ("/api/v1/visits", "GET"): OPS | {"leader", "worker"}, ("/api/v1/visits", "POST"): ADMIN | {"worker"},
    ("/api/v1/visits/<int:visit_id>/case", "POST"): OPS | {"worker"}, ("/api/v1/satisfaction", "GET"): VIEW,
    # tours (mouse patrol)
    ("/api/v1/tours", "GET"): VIEW, ("/api/v1/tours", "POST"): OPS, ("/api/v1/tours/generate", "POST"): OPS,
    ("/api/v1/tours/<int:tour_id>", "GET"): VIEW, ("/api/v1/tours/<int:tour_id>", "DELETE"): OPS,
    ("/api/v1/tours/<int:tour_id>/finish", "POST"): OPS, ("/api/v1/tours/<int:tour_id>/pause", "POST"): OPS,
    ("/api/v1/tours/<int:tour_id>/resume", "POST"): OPS, ("/api/v1/tours/<int:tour_id>/start", "POST"): OPS,
    ("/api/v1/tours/<int:tour_id>/stops/<int:index>", "POST"): OPS,
    # residents' reports from /r (issue 31): anonymous, limited per address and phone; a ticket by its secret link
    ("/api/v1/r/reports", "POST"): ALL, ("/api/v1/r/tickets/<token>", "GET"): ALL,
    ("/api/v1/r/tickets/<token>/photos/<int:photo_id>", "GET"): ALL,
    ("/api/v1/r/tickets/<token>/satisfaction", "POST"): ALL, ("/api/v1/r/grids/<g>/call", "GET"): ALL,
    # public protocols: Open311 (its own api_key parameter for POST) and OsmAnd (device id)
    ("/open311/v2/", "GET"): ALL, ("/open311/v2/", "POST"): ALL, ("/open311/v2/<path:rest>", "GET"): ALL,
    ("/open311/v2/<path:rest>", "POST"): ALL, ("/open311/v2/discovery.<fmt>", "GET"): ALL,
    ("/open311/v2/requests.<fmt>", "GET"): ALL, ("/open311/v2/requests.<fmt>", "POST"): NOBODY,
    ("/open311/v2/requests/<service_request_id>.<fmt>", "GET"): ALL, ("/open311/v2/services.<fmt>", "GET"): ALL,
    ("/open311/v2/services/<service_code>.<fmt>", "GET"): ALL, ("/open311/v2/tokens/<token_id>.<fmt>", "GET"): ALL,
    ("/osmand", "GET"): ALL, ("/osmand", "POST"): ALL,
}
READ_ONLY = {"leader", "display"}


def test_every_endpoint_is_in_the_table(world):
    served = set(endpoints(world.app))
    assert served - set(EXPECTED) == set(), "endpoints without an access rule in EXPECTED"
    assert set(EXPECTED) - served == set(), "rules for endpoints the server no longer has"


def test_read_only_roles_change_nothing():
    for (rule, method), roles in EXPECTED.items():
        # Dash's callback door is a POST for reading too; the callbacks that write check the role themselves
        # (callbacks/governance.py, test_pages_access.py)
        if method != "GET" and roles is not ALL and rule != "/_dash-update-component":
            assert not roles & READ_ONLY, f"{method} {rule} admits a read-only role"


@pytest.mark.parametrize("role", ROLES)
def test_matrix(world, role):
    client = world.client(None if role == "anonymous" else role)
    wrong = []
    for rule, method in endpoints(world.app):
        status = probe(client, rule, method)
        # Dash's own internals answer a malformed request (sample path, empty callback body) with a 500
        assert status < 500 or rule.startswith("/_dash-"), f"{method} {rule} as {role}: {status}"
        if allowed(status) != (role in EXPECTED[(rule, method)]):
            wrong.append((method, rule, status))
        if role == "anonymous" and role not in EXPECTED[(rule, method)] and rule.startswith("/api/"):
            assert status == 401, f"{method} {rule} anonymous: {status}"
    assert not wrong, f"as {role}: {wrong}"


# -- jurisdiction: community A's operator against community B ----------------------------------------------

def test_community_operator_reads_only_its_community(world):
    a, street = world.client("dispatcher_a"), world.client("dispatcher")
    ids = world.ids
    assert a.get(f"/api/v1/cases/{ids['case_a']}").status_code == 200
    for path in (f"/api/v1/cases/{ids['case_b']}", f"/api/v1/cases/{ids['case_b']}/view",
                 f"/api/v1/cases/{ids['case_b']}/recommendations", f"/api/v1/grids/{ids['grid_b']}/register"):
        assert a.get(path).status_code in (403, 404), path
        assert street.get(path).status_code == 200, path
    r = a.post(f"/api/v1/cases/{ids['case_b']}/actions/void", json={"note": "x"})
    assert r.status_code in (403, 404)
    listed = {c["id"] for c in a.get("/api/v1/cases?page_size=500").get_json()["items"]}
    assert ids["case_a"] in listed and ids["case_b"] not in listed
    # a community_id parameter never widens the scope: another community is refused, none means its own
    for path in ("/api/v1/snapshot", "/api/v1/events?after=0", "/api/v1/governance/indicators"):
        sep = "&" if "?" in path else "?"
        assert a.get(f"{path}{sep}community_id={ids['community_b']}").status_code == 403, path
    snap = a.get("/api/v1/snapshot").get_json()
    assert snap["community_id"] == ids["community_a"]
    assert {c["id"] for c in snap["cases"]} == {ids["case_a"], ids["border_case_a"]}
    evs = a.get("/api/v1/events?after=0").get_json()["events"]
    assert evs and all(e["community_id"] in (None, ids["community_a"]) for e in evs)
    full = street.get("/api/v1/events?after=0").get_json()["events"]
    assert any(e["community_id"] == ids["community_b"] for e in full)
    assert {c["id"] for c in street.get("/api/v1/snapshot").get_json()["cases"]} >= {ids["case_a"], ids["case_b"]}


# -- Socket.IO: rooms and events × role --------------------------------------------------------------------

SOCKET_SEES = {"admin": {"A", "B", "street"}, "dispatcher": {"A", "B", "street"},
               "dispatcher_a": {"A", "street"}, "leader": {"A", "B", "street"}, "worker": set(),
               "integration": {"A", "B", "street"}, "display": {"A", "B", "street"}}
# event → roles whose request is accepted (worker acts only for itself: the worker key is bound to worker A)
SOCKET_EVENTS = {"join_worker": {"admin", "worker"}, "leave_worker": ANY_ROLE, "call_invite": OPS,
                 "call_answer": NOBODY, "call_decline": NOBODY, "call_hangup": NOBODY, "call_signal": NOBODY}


def socket_client(world, role: str):
    headers = {} if role == "anonymous" else {"X-API-Key": world.keys[role]}
    return world.services.socketio.test_client(world.app, headers=headers)


def test_an_anonymous_socket_is_refused_at_connect(world):
    c = socket_client(world, "anonymous")
    assert not c.is_connected()


def test_socket_events_by_role_and_jurisdiction(world):
    clients = {r: socket_client(world, r) for r in ROLES if r != "anonymous"}
    for c in clients.values():
        c.get_received()
    with world.services.db.write() as s:
        for tag, comm in (("A", world.ids["community_a"]), ("B", world.ids["community_b"]), ("street", None)):
            events.record(s, "probe", {"tag": tag}, community_id=comm)
    seqs = {}
    for role, c in clients.items():
        batches = [m["args"][0] for m in c.get_received() if m["name"] == "events"]
        got = {e["payload"]["tag"] for b in batches for e in b["events"] if e["type"] == "probe"}
        assert got == SOCKET_SEES[role], role
        if role == "dispatcher_a":  # its batch says where it follows on, so B's seq is no gap
            (batch,) = [b for b in batches if any(e["type"] == "probe" for e in b["events"])]
            seqs = [e["seq"] for e in batch["events"]]
            assert batch["prev"] < seqs[0] and len(seqs) == 2 and seqs[1] == seqs[0] + 2
    for c in clients.values():
        c.disconnect()


def test_a_communitys_batch_is_built_only_while_one_of_its_screens_is_connected(world, monkeypatch):
    """A community's batch costs a query (its `prev`), so push builds it only for rooms a socket of this process
    is in; street-wide screens get every event regardless."""
    from dashboard import realtime

    assert world.services.settings.redis_url is None  # with a message queue every community gets its batch
    asked: list[int] = []
    real = realtime.scope_prev
    monkeypatch.setattr(realtime, "scope_prev", lambda s, c, before: asked.append(c) or real(s, c, before))
    a = world.ids["community_a"]

    def probe(tag: str) -> None:
        with world.services.db.write() as s:
            events.record(s, "probe", {"tag": tag}, community_id=a)

    def probes(client) -> list[tuple[str, int | None]]:
        return [(e["payload"]["tag"], b.get("prev")) for m in client.get_received() if m["name"] == "events"
                for b in [m["args"][0]] for e in b["events"] if e["type"] == "probe"]

    street = socket_client(world, "dispatcher")
    street.get_received()
    probe("nobody of A")
    assert asked == [] and [t for t, _ in probes(street)] == ["nobody of A"]
    scoped = socket_client(world, "dispatcher_a")
    scoped.get_received()
    probe("A listening")
    got = probes(scoped)
    assert asked == [a] and [t for t, _ in got] == ["A listening"] and got[0][1] is not None
    assert [t for t, _ in probes(street)] == ["A listening"]
    scoped.disconnect()
    probe("A gone")
    assert asked == [a] and [t for t, _ in probes(street)] == ["A gone"]
    street.disconnect()


def test_socket_event_matrix(world):
    payload = {"worker_id": world.ids["worker_a"], "call_id": 999999, "kind": "offer", "data": {}}
    wrong = []
    for role in sorted(ANY_ROLE):
        c = socket_client(world, role)
        for name, roles in SOCKET_EVENTS.items():
            ack = c.emit(name, dict(payload), callback=True)
            ok = bool(isinstance(ack, dict) and ack.get("ok"))
            if ok != (role in roles):
                wrong.append((role, name, ack))
            if name == "call_invite" and ok:
                c.emit("call_hangup", {"call_id": ack["call"]["id"]}, callback=True)
        c.disconnect()
    assert not wrong


def test_community_operator_cannot_call_another_communitys_worker(world):
    c = socket_client(world, "dispatcher_a")
    ack = c.emit("call_invite", {"worker_id": world.ids["worker_b"]}, callback=True)
    assert not (isinstance(ack, dict) and ack.get("ok")), ack
    c.disconnect()
