"""The Dash pages and their server callbacks, with demo mode off (production-like).

Pages are public shells only where they sign in by themselves (/login, /m); every other page sends an
anonymous visitor to /login before any script loads, and Dash's callback door answers only the page
router for anonymous callers. A community-bound viewer's page callbacks are limited to its community.
"""
from __future__ import annotations

import json

import pytest

from dashboard.services.apikeys import create_api_key
from layouts.app import PAGE_ROLES, PAGES


def route(client, path: str, search: str = ""):
    """The page router's callback for ``path`` as Dash's renderer calls it."""
    body = {"output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
            "inputs": [{"id": "shell-url", "property": "pathname", "value": path}],
            "state": [{"id": "shell-url", "property": "search", "value": search}],
            "changedPropIds": ["shell-url.pathname"]}
    return client.post("/_dash-update-component", json=body)


def briefing_call(client, scope: str):
    outs = (("brief-content", "children"), ("brief-replay-data", "data"), ("brief-replay-jump", "options"),
            ("brief-export-pdf", "href"), ("brief-export-xlsx", "href"), ("brief-export-csv", "href"))
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": "brief-day", "property": "value", "value": None},
                       {"id": "brief-scope", "property": "value", "value": scope}],
            "state": [{"id": "brief-lang", "property": "data", "value": "zh-CN"}],
            "changedPropIds": ["brief-scope.value"]}
    return client.post("/_dash-update-component", json=body)


def test_every_page_has_an_access_rule():
    assert set(PAGES) == set(PAGE_ROLES)


@pytest.mark.parametrize("path", sorted(PAGES))
def test_anonymous_is_sent_to_sign_in_before_any_script(world, path):
    r = world.client(None).get(f"{path}?lang=en")
    if PAGE_ROLES[path] is None:
        assert r.status_code == 200, path
    else:
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next=") and "lang%3Den" in r.headers["Location"], path


def test_router_answers_anonymous_with_the_sign_in_door_only(world):
    anon = world.client(None)
    r = route(anon, "/console")
    assert r.status_code == 200
    text = json.dumps(r.get_json(), ensure_ascii=False)
    assert "/login?next=%2Fconsole" in text and "console-header" not in text
    assert "console-header" in route(world.client("dispatcher"), "/console").get_data(as_text=True)
    # a public page renders; the home page shows its links but not the street's counts
    home = json.dumps(route(anon, "/").get_json(), ensure_ascii=False)
    assert "/wall" in home and "home-status" not in home
    assert "home-status" in route(world.client("leader"), "/").get_data(as_text=True)


def test_wrong_role_gets_a_forbidden_page(world):
    text = route(world.client("display"), "/console").get_data(as_text=True)
    assert "403" in text and "console-header" not in text
    assert "403" in route(world.client("worker"), "/briefing").get_data(as_text=True)


def test_other_callbacks_refuse_anonymous(world):
    r = briefing_call(world.client(None), "street")
    assert r.status_code == 401
    assert r.get_json()["error"]["message"] == "sign in first"
    # a signed-in viewer gets the figures (the same call, so the refusal above is the door, not the body)
    assert briefing_call(world.client("leader"), "street").status_code == 200


def test_a_community_leader_s_briefing_is_its_own_community(world):
    with world.services.db.write() as s:
        _, key = create_api_key(s, name="leader-a", role="leader", community_id=world.ids["community_a"])
    c = world.app.test_client()
    c.environ_base["HTTP_X_API_KEY"] = key
    out = briefing_call(c, str(world.ids["community_b"])).get_json()["response"]
    pdf = out["brief-export-pdf"]["href"]
    assert f"community={world.ids['community_a']}" in pdf, pdf
    # the page itself offers only its own community
    page = route(c, "/briefing").get_data(as_text=True)
    options = _scope_options(page)
    assert json.dumps(str(world.ids["community_a"])) in options
    assert json.dumps(str(world.ids["community_b"])) not in options and '"street"' not in options
    street = briefing_call(world.client("leader"), str(world.ids["community_b"])).get_json()["response"]
    assert f"community={world.ids['community_b']}" in street["brief-export-pdf"]["href"]


def _scope_options(page_json: str) -> str:
    """The scope dropdown's options, as JSON text."""
    data = json.loads(page_json)

    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "brief-scope":
                return json.dumps(node["props"].get("options"))
            for v in node.values():
                found = walk(v)
                if found:
                    return found
        elif isinstance(node, list):
            for v in node:
                found = walk(v)
                if found:
                    return found
        return None

    return walk(data) or ""


def activity_call(client, title: str, grid: str | None = None):
    states = [("gov-form-kind", "value", "volunteer_service"), ("gov-form-title", "value", title),
              ("gov-form-grid", "value", grid), ("gov-form-place", "value", None),
              ("gov-form-started", "value", "2026-11-29T09:00"), ("gov-form-ended", "value", "2026-11-29T10:00"),
              ("gov-form-participants", "value", 3), ("gov-form-volunteers", "value", 2),
              ("gov-form-hours", "value", 2), ("gov-form-organiser", "value", None),
              ("gov-form-lang", "data", "en")]
    outs = (("gov-form-result", "children"), ("gov-form-result", "className"), ("gov-form-title", "value"))
    body = {"output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": "gov-form-submit", "property": "n_clicks", "value": 1}],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
            "changedPropIds": ["gov-form-submit.n_clicks"]}
    return client.post("/_dash-update-component", json=body)


def test_the_activity_form_writes_only_for_roles_that_may(world):
    from sqlalchemy import func, select

    from dashboard.models import GovernanceActivity

    def count(title):
        with world.services.db.read() as s:
            return s.scalar(select(func.count()).select_from(GovernanceActivity)
                            .where(GovernanceActivity.title == title))

    assert activity_call(world.client(None), "anon-try").status_code == 401
    r = activity_call(world.client("leader"), "leader-try").get_json()["response"]
    assert "error" in r["gov-form-result"]["className"] and count("leader-try") == 0
    from dashboard.models import Grid

    with world.services.db.read() as s:
        code = s.get(Grid, world.ids["grid_a"]).code
    r = activity_call(world.client("dispatcher"), "desk-entry", code).get_json()["response"]
    assert "ok" in r["gov-form-result"]["className"], r
    assert count("desk-entry") == 1
