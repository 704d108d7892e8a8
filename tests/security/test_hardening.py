"""Hardening: sessions, CSRF, idle expiry, the wall's display token, first-run admin, rate limits,
security headers, the audit log and its retention, uploads checked by content."""
from __future__ import annotations

import io
import re
import threading
import time
from datetime import timedelta

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import event, select, update

from dashboard.models import ApiKey, AuditLog, User
from dashboard.services import audit
from dashboard.services.apikeys import create_api_key
from dashboard.services.users import ensure_admin, hash_password
from dashboard.timeutil import utcnow
from tests.security.conftest import build_world


@pytest.fixture(scope="module")
def hw(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("hard"), with_pages=False,
                    extra={"GC_RATE_LOGIN": "5/300", "GC_RATE_OSMAND": "3/60", "GC_SESSION_IDLE_MIN": "0.02",
                           "GC_CSP": "enforce"})
    with w.services.db.write() as s:
        for name, role, comm in (("disp", "dispatcher", None), ("dispa", "dispatcher", w.ids["community_a"])):
            s.add(User(username=name, display_name=name, role=role, community_id=comm,
                       password_hash=hash_password("correct horse 1")))
    yield w
    w.services.shutdown()


def login(c, username: str, password: str = "correct horse 1", ip: str = "10.1.0.1"):
    return c.post("/auth/login", json={"username": username, "password": password},
                  environ_base={"REMOTE_ADDR": ip})


def test_session_needs_the_csrf_header_and_a_same_origin(hw):
    c = hw.app.test_client()
    assert login(c, "disp").status_code == 200
    token = c.get_cookie("gc_csrf").value
    body = {"category_code": "0601", "lat": 34.261, "lon": 108.951}
    env = {"REMOTE_ADDR": "10.1.0.1"}
    assert c.post("/api/v1/cases", json=body, environ_base=env).status_code == 403
    assert c.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": "forged"}, environ_base=env).status_code == 403
    r = c.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": token}, environ_base=env)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert c.post("/api/v1/cases", json=body, environ_base=env, headers={
        "X-CSRF-Token": token, "Origin": "http://evil.example"}).status_code == 403
    # API keys carry no ambient credential: no token needed
    assert hw.client("integration").post("/api/v1/cases", json=body).status_code == 201


def test_sign_in_is_audited_and_sessions_expire_when_idle(hw):
    c = hw.app.test_client()
    assert login(c, "disp", "wrong password").status_code == 401
    assert login(c, "dispa").status_code == 200
    me = c.get("/auth/me", environ_base={"REMOTE_ADDR": "10.1.0.1"}).get_json()
    assert me["signed_in"] and me["role"] == "dispatcher"
    with hw.services.db.read() as s:
        rows = s.execute(select(AuditLog.action, AuditLog.target, AuditLog.ip).order_by(AuditLog.id)).all()
    assert ("sign_in_failed", "user:disp", "10.1.0.1") in rows and ("sign_in", "user:dispa", "10.1.0.1") in rows
    with c.session_transaction() as sess:  # idle timeout 0.02 min = 1.2 s
        sess["gc_seen"] = int(time.time()) - 5
    assert c.get("/api/v1/cases", environ_base={"REMOTE_ADDR": "10.1.0.1"}).status_code == 401


def test_display_token_keeps_a_kiosk_signed_in_until_revoked(hw):
    with hw.services.db.write() as s:
        row, token = create_api_key(s, name="大厅大屏", role="display")
        key_id = row.id
        _, worker_key = create_api_key(s, name="not a display", role="worker")
    kiosk = hw.app.test_client()
    assert kiosk.get("/api/v1/snapshot").status_code == 401
    r = kiosk.get(f"/wall?display_token={token}&lang=en")
    assert r.status_code == 302 and r.headers["Location"] == "/wall?lang=en"
    cookie = kiosk.get_cookie("gc_display")
    assert cookie.http_only and cookie.expires is not None
    assert kiosk.get("/api/v1/snapshot").status_code == 200
    assert kiosk.get("/auth/me").get_json()["role"] == "display"
    assert kiosk.post("/api/v1/cases", json={"category_code": "0601"}).status_code == 403  # read-only
    assert hw.app.test_client().get(f"/wall?display_token={worker_key}").status_code == 401
    assert hw.client("admin").delete(f"/api/v1/api-keys/{key_id}").status_code == 200
    assert kiosk.get("/api/v1/snapshot").status_code == 401


def test_first_run_admin_has_a_one_time_password(hw, tmp_path):
    w = build_world(tmp_path, with_pages=False)
    try:
        with w.services.db.write() as s:
            created = ensure_admin(s)
        with w.services.db.write() as s:
            assert ensure_admin(s) is None  # only once
        name, password = created.split(" ", 1)
        assert len(password) >= 12
        c = w.app.test_client()
        env = {"REMOTE_ADDR": "10.2.0.1"}
        assert login(c, name, "admin", "10.2.0.2").status_code == 401  # no default password
        assert login(c, name, password, "10.2.0.1").status_code == 200
        hdr = {"X-CSRF-Token": c.get_cookie("gc_csrf").value}
        assert c.get("/api/v1/users", environ_base=env).status_code == 403  # must change first
        r = c.post("/auth/password", json={"old_password": password, "new_password": "short"}, headers=hdr,
                   environ_base=env)
        assert r.status_code == 422
        r = c.post("/auth/password", json={"old_password": password, "new_password": "a new long secret 9"},
                   headers=hdr, environ_base=env)
        assert r.status_code == 200
        users = c.get("/api/v1/users", environ_base=env).get_json()["users"]
        assert [u["role"] for u in users] == ["admin"] and not users[0]["must_change_password"]
        r = c.post("/api/v1/users", json={"username": "op1", "role": "leader", "password": "leader password 1",
                                          "community_id": w.ids["community_a"]}, headers=hdr, environ_base=env)
        assert r.status_code == 201 and r.get_json()["must_change_password"]
        actions = [e["action"] for e in c.get("/api/v1/audit?limit=50", environ_base=env).get_json()["entries"]]
        assert {"user_create", "password_change", "sign_in", "sign_in_failed"} <= set(actions)
    finally:
        w.services.shutdown()


def test_rate_limits_on_sign_in_and_osmand(hw):
    c = hw.app.test_client()
    codes = [login(c, "nobody", "x", ip="10.9.9.9").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert login(c, "nobody", "x", ip="10.9.9.8").status_code == 401  # another address has its own budget
    # fixes per registered device (a stranger's id spends nobody's budget: tests/security/test_round2_osmand.py)
    codes = [c.get(f"/osmand?id=DEV1&lat=34.26&lon=108.95&timestamp={1764380000 + i}").status_code for i in range(5)]
    assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]
    assert c.get("/osmand?id=DEV2&lat=34.26&lon=108.95").status_code == 200  # another device has its own budget


def test_security_headers_and_csp(hw):
    r = hw.app.test_client().get("/healthz")
    h = r.headers
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    csp = dict(part.split(" ", 1) for part in h["Content-Security-Policy"].split("; "))
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]
    assert csp["connect-src"] == "'self'" and "http" not in h["Content-Security-Policy"]
    # outside production (and without GC_CSP=enforce) the same policy is report-only
    assert "Content-Security-Policy" not in world_headers(tmp_extra={})
    assert "default-src 'self'" in world_headers(tmp_extra={})["Content-Security-Policy-Report-Only"]


def world_headers(tmp_extra: dict) -> dict:
    import tempfile
    from pathlib import Path

    w = build_world(Path(tempfile.mkdtemp()), with_pages=False, extra=tmp_extra)
    try:
        return dict(w.app.test_client().get("/healthz").headers)
    finally:
        w.services.shutdown()


class Commits:
    """The tables each transaction committed by this thread wrote (INSERT or UPDATE), in order."""

    def __init__(self, engine) -> None:
        self.engine, self.me, self.tx, self.seen = engine, threading.get_ident(), [], []

    def _stmt(self, conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        m = re.match(r"\s*(?:INSERT INTO|UPDATE)\s+\"?(\w+)", statement)
        if m and threading.get_ident() == self.me:
            self.tx.append(m.group(1))

    def _commit(self, conn):  # noqa: ANN001
        if threading.get_ident() == self.me:
            if self.tx:
                self.seen.append(set(self.tx))
            self.tx = []

    def _rollback(self, conn):  # noqa: ANN001
        if threading.get_ident() == self.me:
            self.tx = []

    def _listeners(self):
        return (("before_cursor_execute", self._stmt), ("commit", self._commit), ("rollback", self._rollback))

    def __enter__(self):
        for name, fn in self._listeners():
            event.listen(self.engine, name, fn)
        return self

    def __exit__(self, *exc) -> None:
        for name, fn in self._listeners():
            event.remove(self.engine, name, fn)


def test_an_audited_action_commits_with_its_record(hw):
    """A reported case and its audit row are one transaction: one write turn on SQLite, and no crash can leave the
    case committed but unrecorded. The key's last-use stamp, written while the caller is identified, does not carry
    the row; a refused action rolls back and leaves none; an export writes nothing, so its row commits alone."""
    with hw.services.db.write() as s:  # the dispatcher key's last use is due for its stamp
        s.execute(update(ApiKey).where(ApiKey.name == "test-dispatcher").values(last_used_at=utcnow() - timedelta(minutes=5)))
    d = hw.client("dispatcher")
    with Commits(hw.services.db.engine) as tx:
        r = d.post("/api/v1/cases", json={"category_code": "0601", "lat": 34.261, "lon": 108.951,
                                          "description": "audit-tx"})
        assert r.status_code == 201, r.get_data(as_text=True)
    stamp, report = tx.seen
    assert stamp == {"api_key"}
    assert {"case_file", "audit_log"} <= report, report
    with Commits(hw.services.db.engine) as tx:
        assert d.post(f"/api/v1/cases/{r.get_json()['id']}/actions/nonsense", json={}).status_code >= 400
        assert d.post("/api/v1/cases", json={"category_code": "0601", "lat": 34.261, "lon": 108.951,
                                             "worker_id": 999999}).status_code == 422
    assert tx.seen == []
    with Commits(hw.services.db.engine) as tx:
        assert d.get("/api/v1/briefing/export.csv").status_code == 200
    assert tx.seen == [{"audit_log"}]
    entries = hw.client("admin").get("/api/v1/audit?limit=2").get_json()["entries"]
    assert [(e["action"], e["actor"]) for e in entries] == [("export", "test-dispatcher"),
                                                             ("case_create", "test-dispatcher")]


def test_audit_retention_never_drops_younger_than_180_days(hw):
    with hw.services.db.write() as s:
        for days in (10, 179, 181, 400):
            audit.record(s, None, "retention_probe", f"d{days}").at = utcnow() - timedelta(days=days)
    with hw.services.db.write() as s:
        audit.prune(s, 30)  # asks for 30 days: clamped to 180
    with hw.services.db.read() as s:
        left = set(s.scalars(select(AuditLog.target).where(AuditLog.action == "retention_probe")))
    assert left == {"d10", "d179"}


def _png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_uploads_are_checked_by_content_and_re_encoded(hw):
    c = hw.client("worker")
    fake = c.post("/api/v1/photos", data={"photo": (io.BytesIO(b"<script>alert(1)</script>"), "photo.jpg")})
    assert fake.status_code == 415
    # A PNG carrying a text chunk (where a phone puts GPS and device data) and a script appended after its end
    meta = PngInfo()
    meta.add_text("Comment", "GC-SECRET-GPS 34.2655,108.9540")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG", pnginfo=meta)
    sent = buf.getvalue() + b"<script>alert(1)</script>"
    r = c.post("/api/v1/photos", data={"photo": (io.BytesIO(sent), "innocent.txt")})
    assert r.status_code == 201, r.get_data(as_text=True)
    token = r.get_json()["token"]
    case = c.post("/api/v1/cases", json={"category_code": "0101", "lat": 34.261, "lon": 108.951, "photos": [token]})
    assert case.status_code == 201, case.get_data(as_text=True)
    (photo,) = case.get_json()["photo_list"]
    for url in (photo["url"], photo["thumb_url"]):
        got = c.get(url)
        assert got.status_code == 200 and got.mimetype == "image/jpeg"
        stored = got.get_data()
        assert stored[:3] == b"\xff\xd8\xff" and stored != sent  # a fresh JPEG, not the PNG passed through
        assert b"GC-SECRET-GPS" not in stored and b"<script>" not in stored  # metadata and tail dropped
        img = Image.open(io.BytesIO(stored))
        assert img.format == "JPEG" and not img.info.get("exif") and "Comment" not in img.info
        assert img.size == (64, 48)
        r_, g_, b_ = img.convert("RGB").getpixel((32, 24))  # the picture itself survives (JPEG is lossy)
        assert abs(r_ - 200) < 12 and abs(g_ - 30) < 12 and abs(b_ - 30) < 12
    big = c.post("/api/v1/photos", data={"photo": (io.BytesIO(b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024)), "a.jpg")})
    assert big.status_code == 413


def test_dispatches_state_changes_and_exports_are_audited(hw):
    d = hw.client("dispatcher")
    cid = d.post("/api/v1/cases", json={"category_code": "0601", "lat": 34.261, "lon": 108.951}).get_json()["id"]
    assert d.post(f"/api/v1/cases/{cid}/actions/register", json={}).status_code == 200
    assert d.post(f"/api/v1/cases/{cid}/actions/dispatch", json={"worker_id": hw.ids["worker_a"]}).status_code == 200
    assert d.post(f"/api/v1/cases/{cid}/actions/nonsense", json={}).status_code >= 400  # refused: not audited
    d.get("/api/v1/briefing/export.csv")
    entries = hw.client("admin").get(f"/api/v1/audit?target=case:{cid}").get_json()["entries"]
    assert [(e["action"], (e["detail"] or {}).get("action")) for e in entries][::-1] == [
        ("case_action", "register"), ("case_action", "dispatch")]
    assert all(e["actor"] == "test-dispatcher" and e["role"] == "dispatcher" for e in entries)
    assert hw.client("admin").get("/api/v1/audit?action=case_create").get_json()["total"] >= 1
    a = hw.client("dispatcher_a")
    assert a.get(f"/api/v1/briefing/export.csv?community={hw.ids['community_b']}").status_code == 403
    assert a.get("/api/v1/briefing/export.csv").status_code == 200
    exports = hw.client("admin").get("/api/v1/audit?action=export").get_json()["entries"]
    # the community operator's export was pinned to its own community, and both are on record
    assert [(e["actor"], e["detail"].get("query", {}).get("community")) for e in exports[:2]] == [
        ("test-dispatcher_a", str(hw.ids["community_a"])), ("test-dispatcher", None)]
    assert hw.client("admin").get("/api/v1/audit?since=yesterday").status_code == 400
