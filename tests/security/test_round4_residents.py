"""Round 4 (issue 31): the residents' page's abuse limits and tracking as an outsider attacks them — a phone budget
dodged by writing the same number another way, a solved challenge replayed, forged client addresses, guessed
links. Each test names what it probes; the clock is the server's (nothing here depends on the hour)."""
from __future__ import annotations

import json

import pytest

from dashboard.services import residents as svc
from dashboard.services.residents import grid_link_param
from tests.security.conftest import build_world

LAT, LON = 34.2610, 108.9510


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("round4r"), with_pages=False)
    yield w
    w.services.shutdown()


def report(world, *, addr: str, key: str | None, status: int | None = None, headers=None, **fields):
    body = {"g": grid_link_param(world.app.config["SECRET_KEY"], "G00"), "category": "noise",
            "description": "夜间施工", "lat": LAT, "lon": LON, **fields}
    h = dict(headers or {})
    if key:
        h["Idempotency-Key"] = key
    r = world.app.test_client().post("/api/v1/r/reports", data={"report": json.dumps(body, ensure_ascii=False)},
                                     content_type="multipart/form-data", headers=h,
                                     environ_base={"REMOTE_ADDR": addr})
    if status is not None:
        assert r.status_code == status, (r.status_code, r.get_json())
    return r


@pytest.mark.parametrize("variant", ["+86 137 0000 1234", "+8613700001234", "8613700001234", "008613700001234",
                                     "0086-137-0000-1234", "013700001234"])
def test_one_mobile_written_another_way_is_the_same_phone(variant):
    """Probe: the per-phone budget (5 an hour) was keyed on the digits as typed, so +86 / 0086 / 86 in front of the
    same mobile was a fresh budget each — five more reports per spelling. One number, one key."""
    assert svc.normalise_phone(variant) == "13700001234"


def test_the_phone_budget_is_not_dodged_by_a_country_code(world):
    limit = int(world.services.settings.rate_resident_phone.split("/")[0])
    for i in range(limit):
        report(world, addr=f"10.40.0.{i}", key=f"r4-phone-{i:03d}", status=201, phone="13911112222")
    for i, spelling in enumerate(("+8613911112222", "0086 139 1111 2222", "8613911112222")):
        r = report(world, addr=f"10.41.0.{i}", key=f"r4-phone-x{i:02d}", phone=spelling)
        assert r.status_code == 429 and r.get_json()["error"]["field"] == "phone", (spelling, r.get_json())


def test_landlines_keep_their_area_code():
    assert svc.normalise_phone("029-8765 4321") == "02987654321"
    assert svc.normalise_phone("+86 29 87654321") == "02987654321"


def test_a_solved_challenge_admits_one_report_not_a_flood(world):
    """Probe: a report without an Idempotency-Key got a sum signed for the key "" — once solved, its token and answer
    admitted every further keyless report from the address for ten minutes. A challenged report must carry a key."""
    addr = "10.42.0.1"
    after = world.services.settings.resident_challenge_after
    for i in range(after):
        report(world, addr=addr, key=f"r4-chal-{i:03d}", status=201)
    r = report(world, addr=addr, key=None)
    assert r.status_code in (422, 429)
    err = r.get_json()["error"]
    if r.status_code == 422:  # told to send a key: the keyed retry gets the sum
        assert err["field"] == "Idempotency-Key"
        err = report(world, addr=addr, key="r4-chal-next", status=429).get_json()["error"]
        key = "r4-chal-next"
    else:
        key = None
    a, b = (int(x) for x in err["challenge"]["question"].split(" + "))
    solved = {"challenge": err["challenge"]["token"], "challenge_answer": str(a + b)}
    report(world, addr=addr, key=key, status=201, **solved)
    for i in range(3):  # the same solution again, for new reports
        r = report(world, addr=addr, key=None, description=f"又一条 {i}", **solved)
        assert r.status_code in (400, 422, 429), r.get_json()
    r = report(world, addr=addr, key="r4-chal-more", description="再来", **solved)
    assert r.status_code in (400, 429), r.get_json()


def test_a_forged_forwarded_for_is_not_a_new_address(world):
    """Held: with no trusted proxy (the default) X-Forwarded-For is ignored, so the challenge and the address budget
    follow the real address however the header is forged."""
    addr = "10.43.0.1"
    after = world.services.settings.resident_challenge_after
    for i in range(after):
        report(world, addr=addr, key=f"r4-xff-{i:03d}", status=201, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    r = report(world, addr=addr, key="r4-xff-next", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 429 and r.get_json()["error"]["field"] == "challenge_answer"


def test_guessed_tracking_links_and_photos_are_404(world):
    """Held: the tracking token is 256 random bits; a tracking code, a truncated or over-long token, path tricks
    and another ticket's photo id all answer 404 naming the token or photo, never a 500."""
    out = report(world, addr="10.44.0.1", key="r4-track-01", status=201).get_json()
    c = world.app.test_client()
    for bad in (out["tracking_code"], out["token"][:-1], out["token"] + "A", "a" * 65, "%00", "..%2f..%2fetc",
                out["token"].upper() if out["token"] != out["token"].upper() else out["token"].lower()):
        r = c.get(f"/api/v1/r/tickets/{bad}", environ_base={"REMOTE_ADDR": "10.44.0.2"})
        assert r.status_code == 404, (bad, r.status_code)
        assert c.get(f"/api/v1/r/tickets/{bad}/photos/1", environ_base={"REMOTE_ADDR": "10.44.0.2"}).status_code == 404
    r = c.get(f"/api/v1/r/tickets/{out['token']}/photos/99999999999999999999", environ_base={"REMOTE_ADDR": "10.44.0.2"})
    assert r.status_code in (400, 404) and r.get_json()["error"]["field"] == "photo_id", r.get_data(as_text=True)
    view = c.get(f"/api/v1/r/tickets/{out['token']}", environ_base={"REMOTE_ADDR": "10.44.0.2"}).get_json()
    assert "phone" not in json.dumps(view) and view["can_rate"] is False


def test_forged_grid_links_are_refused(world):
    """Held: a QR link for another grid needs the server's HMAC; a check made for G00 does not pass for G01, and
    neither does a check of the wrong length or case."""
    secret = world.app.config["SECRET_KEY"]
    good = grid_link_param(secret, "G00")
    for forged in ("G01." + good.split(".")[1], good.upper(), good[:-1], good + "0", "G01", "G00." + "0" * 10):
        r = report(world, addr="10.45.0.1", key=None, g=forged)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == "g", forged


def test_merged_reports_reopen_their_case_once(world):
    """Probe: 不满意 reopens a case as rework once — but each ticket kept its own 'reworked' flag, so a resident who
    filed the same problem twice (the center folds the duplicate into the first) reopened the case once per ticket.
    The case is reopened by residents once; a later 不满意 from any of its tickets is recorded, reopening nothing."""
    from sqlalchemy import select

    from dashboard.models import Case, CaseState, ResidentTicket
    from dashboard.services.duplicates import merge_cases
    from dashboard.timeutil import utcnow

    first = report(world, addr="10.46.0.1", key="r4-merge-01", status=201).get_json()
    second = report(world, addr="10.46.0.2", key="r4-merge-02", status=201).get_json()
    with world.services.db.write() as s:
        t1, t2 = (s.scalar(select(ResidentTicket).where(ResidentTicket.token == o["token"])) for o in (first, second))
        into, dup = s.get(Case, t1.case_id), s.get(Case, t2.case_id)
        merge_cases(s, dup, into, actor="test")
        case_id = into.id

    def close() -> None:
        with world.services.db.write() as s:
            c = s.get(Case, case_id)
            c.state, c.closed_at = CaseState.CLOSED, utcnow()

    c = world.app.test_client()

    def rate(token: str):
        r = c.post(f"/api/v1/r/tickets/{token}/satisfaction", json={"value": "unsatisfied", "comment": "没修好"},
                   environ_base={"REMOTE_ADDR": "10.46.0.9"})
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    close()
    assert rate(first["token"])["reopened"] is True
    with world.services.db.read() as s:
        assert s.get(Case, case_id).state == CaseState.FEEDBACK
    close()
    rate(second["token"])  # recorded …
    with world.services.db.read() as s:  # … but the case stays closed
        c2 = s.get(Case, case_id)
        assert (c2.state, c2.rework_count) == (CaseState.CLOSED, 1), (c2.state, c2.rework_count)


def test_an_ipv6_subscriber_is_one_address_for_the_limits(world):
    """Probe: every per-address limit counted the full IPv6 address, but a phone or home line holds a whole /64 (China's
    mobile networks hand every phone one) and may pick any address in it — a fresh budget per request: no challenge
    after 3 reports, no 429 after 30, a sign-in guess per address. An IPv6 client is counted by its /64."""
    from dashboard.ratelimit import client_key

    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff:1:2:3") != client_key("2001:db8:1:3::5")
    assert client_key("10.0.0.7") == "10.0.0.7" and client_key("::ffff:10.0.0.7") == "10.0.0.7"
    assert client_key(None) == "?" and client_key("not an address") == "not an address"
    after = world.services.settings.resident_challenge_after
    for i in range(after):
        report(world, addr=f"2001:db8:77:1::{i + 1:x}", key=f"r4-v6-{i:03d}", status=201)
    r = report(world, addr="2001:db8:77:1:abcd::99", key="r4-v6-next")
    assert r.status_code == 429 and r.get_json()["error"]["field"] == "challenge_answer", r.get_json()
    report(world, addr="2001:db8:77:2::1", key="r4-v6-other", status=201)  # the neighbour's /64 is not asked


def test_an_ipv6_subscriber_is_one_address_for_the_sign_in_limit(tmp_path):
    w = build_world(tmp_path, with_pages=False, extra={"GC_RATE_LOGIN": "10/300"})
    c = w.app.test_client()
    codes = [c.post("/auth/login", json={"username": "nobody", "password": "wrong-password-1"},
                    environ_base={"REMOTE_ADDR": f"2001:db8:77:3::{i + 1:x}"}).status_code for i in range(12)]
    assert 429 in codes, codes
    w.services.shutdown()


@pytest.mark.parametrize("category", [["noise"], {"a": 1}])
def test_a_category_that_is_not_text_is_a_422(world, category):
    """Probe: a JSON list or object as the category was looked up in the category table as a key — unhashable, a 500."""
    r = report(world, addr="10.47.0.1", key=None, category=category)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "category", r.status_code
