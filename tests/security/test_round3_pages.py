"""Round 3: today's small pages as an attacker sends them — the 404 page's language link and ``?lang=``."""
from __future__ import annotations

import json

import pytest

from tests.security.test_pages_access import route


def hrefs(node, out=None) -> list[str]:
    out = [] if out is None else out
    if isinstance(node, dict):
        if isinstance(node.get("href"), str):
            out.append(node["href"])
        for v in node.values():
            hrefs(v, out)
    elif isinstance(node, list):
        for v in node:
            hrefs(v, out)
    return out


@pytest.mark.parametrize("path", ["//evil.example/x", "/\\evil.example/x", "///evil.example", "/\t/evil.example"])
def test_not_found_page_links_stay_on_this_site(world, path):
    """A link to ``http://center//evil.example/x`` shows the 404 page; its language switch must not point at
    ``//evil.example/x`` (a browser reads that as another site)."""
    r = route(world.client(None), path)
    assert r.status_code == 200
    links = hrefs(json.loads(r.get_data(as_text=True)))
    assert links, "the 404 page has links"
    for href in links:
        assert href.startswith("/") and not href.startswith("//") and "\\" not in href and "\t" not in href, href


@pytest.mark.parametrize("raw", ["en\r\nSet-Cookie: a=b", "en\"><script>alert(1)</script>", "x" * 5000, "ＥＮ", "en;"])
def test_lang_parameter_is_never_reflected(world, raw):
    c = world.client(None)
    r = c.get("/login", query_string={"lang": raw})
    cookies = r.headers.getlist("Set-Cookie")
    langs = [h for h in cookies if h.startswith("gc_lang=")]
    assert all(h.split(";")[0] in ("gc_lang=en", "gc_lang=zh-CN") for h in langs), langs
    body = r.get_data(as_text=True)
    assert "<script>alert(1)" not in body and 'lang="x' not in body
    # a forged cookie is read as a language, never written into the page
    c2 = world.client(None)
    c2.set_cookie("gc_lang", "en\"><script>alert(1)</script>")
    body = c2.get("/login").get_data(as_text=True)
    assert "<script>alert(1)" not in body
