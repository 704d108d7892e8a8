"""Rate limits: counted per name and key; sign-in shared across processes through Redis when there is one."""
from __future__ import annotations

import uuid

import pytest

from dashboard.ratelimit import RateLimits, parse_limit


def test_parse_limit():
    item = parse_limit("10/300")
    assert (item.amount, item.get_expiry()) == (10, 300)
    assert parse_limit("off") is None and parse_limit("0") is None
    for bad in ("ten/60", "-1/60", "5/0"):
        with pytest.raises(ValueError):
            parse_limit(bad)


def test_memory_limit_by_key_and_retry_after():
    r = RateLimits({"LOGIN": "3/60", "OSMAND": "off"})
    assert [r.take("LOGIN", "a") for _ in range(5)] == [True, True, True, False, False]
    assert r.take("LOGIN", "b")  # another key has its own budget
    assert 1 <= r.retry_after("LOGIN", "a") <= 60
    assert all(r.take("OSMAND", "dev") for _ in range(1000))
    assert r.where("LOGIN") == "memory"


@pytest.mark.redis
def test_two_processes_share_the_sign_in_budget_but_not_device_fixes(redis_url):
    """Two RateLimits on one Redis stand for two worker processes: sign-in has one budget between them."""
    one, two = ({"LOGIN": "4/60", "OSMAND": "2/60"} for _ in range(2))
    p1 = RateLimits(one, redis_url=redis_url, shared=frozenset({"LOGIN"}))
    p2 = RateLimits(two, redis_url=redis_url, shared=frozenset({"LOGIN"}))
    ip = f"ip-{uuid.uuid4().hex}"
    assert (p1.where("LOGIN"), p1.where("OSMAND")) == ("redis", "memory")
    got = [p.take("LOGIN", ip) for p in (p1, p2, p1, p2, p1, p2)]
    assert got == [True, True, True, True, False, False]
    dev = f"dev-{uuid.uuid4().hex}"
    assert [p1.take("OSMAND", dev) for _ in range(3)] == [True, True, False]
    assert [p2.take("OSMAND", dev) for _ in range(2)] == [True, True]  # each process its own device budget


def test_unreachable_redis_falls_back_to_this_process():
    r = RateLimits({"LOGIN": "2/60"}, redis_url="redis://127.0.0.1:1/0", shared=frozenset({"LOGIN"}))
    assert r.where("LOGIN") == "redis"
    assert [r.take("LOGIN", "x") for _ in range(3)] == [True, True, False]
    assert r.retry_after("LOGIN", "x") >= 1
