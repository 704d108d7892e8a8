"""The residents' page's signed pieces (issue 31): a grid's QR link, the challenge after repeated reports, the
call-back number's form. Pure functions: no server."""
from __future__ import annotations

import pytest

from dashboard.services import residents as svc

SECRET = "unit-secret"


def test_a_grid_link_names_its_grid_and_cannot_be_made_for_another():
    g = svc.grid_link_param(SECRET, "610102001001001")
    assert g == svc.grid_link_param(SECRET, "610102001001001")  # stable: the posters keep working
    code, check = g.split(".")
    assert code == "610102001001001" and len(check) == svc.LINK_CHECK_LEN
    assert svc.grid_code_of(SECRET, g) == "610102001001001"
    other = f"610102001001002.{check}"  # the next grid's code with this grid's check
    for bad in (other, code, f"{code}.", f"{code}.{check.upper()}", f"{code}.{check}x", "", None,
                svc.grid_link_param("another-server", code), f"../{g}", g + "\n" + g):
        assert svc.grid_code_of(SECRET, bad) is None, bad


def test_the_challenge_admits_one_report_from_one_address_in_time():
    ch = svc.issue_challenge(SECRET, "addr-a", "r:key-1", now_s=1000.0)
    a, b = (int(x) for x in ch["question"].split(" + "))
    right = str(a + b)
    assert svc.challenge_passed(SECRET, ch["token"], right, "addr-a", "r:key-1", now_s=1000.0 + 599)
    assert svc.challenge_passed(SECRET, ch["token"], f" {right} ", "addr-a", "r:key-1", now_s=1001.0)
    assert not svc.challenge_passed(SECRET, ch["token"], str(a + b + 1), "addr-a", "r:key-1", now_s=1001.0)
    assert not svc.challenge_passed(SECRET, ch["token"], right, "addr-b", "r:key-1", now_s=1001.0)  # elsewhere
    assert not svc.challenge_passed(SECRET, ch["token"], right, "addr-a", "r:key-2", now_s=1001.0)  # another report
    assert not svc.challenge_passed(SECRET, ch["token"], right, "addr-a", "r:key-1", now_s=1000.0 + 601)  # late
    forged = ch["token"].split(".")
    forged[0] = str((int(forged[0]) % 9) + 1)  # change the sum, keep the signature
    assert not svc.challenge_passed(SECRET, ".".join(forged), right, "addr-a", "r:key-1", now_s=1001.0)
    for junk in ("", "1.2.3", "a.b.c.d", "1.2.99999999999999999999.00", None):
        assert not svc.challenge_passed(SECRET, junk, right, "addr-a", "r:key-1", now_s=1001.0)


@pytest.mark.parametrize("raw, clean", [("139 1234 5678", "13912345678"), ("139-1234-5678", "13912345678"),
                                        ("+86 139 1234 5678", "13912345678"), ("(029)87654321", "02987654321"),
                                        ("", None), (None, None), ("   ", None)])
def test_call_back_numbers_are_kept_as_digits(raw, clean):
    assert svc.normalise_phone(raw) == clean


@pytest.mark.parametrize("raw", ["call me", "123", "1" * 16, "139 1234 567a", "+", "138\n1234 5678"])
def test_a_call_back_number_that_is_not_one_names_the_field(raw):
    with pytest.raises(svc.ResidentError) as e:
        svc.normalise_phone(raw)
    assert (e.value.status, e.value.field) == (422, "phone")


def test_tracking_codes_are_short_and_unambiguous():
    codes = {svc.new_tracking_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 9 and c[0] == "R" and not set(c[1:]) & set("01OI") for c in codes)
