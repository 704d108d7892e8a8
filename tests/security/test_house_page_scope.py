"""Pages read through services that take the caller's scope (issue 30 item 8): a community-bound user's pages show
its own community's workers, grids and counts only."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from dashboard.i18n import t
from dashboard.models import Grid, Worker

SHOWN = '"id": "call-page-worker"'  # the note naming the worker the page answers for


def route(client, path: str, search: str = "") -> str:
    """The page router's answer for ``path`` as Dash's renderer asks for it, as text."""
    body = {"output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
            "inputs": [{"id": "shell-url", "property": "pathname", "value": path}],
            "state": [{"id": "shell-url", "property": "search", "value": search}],
            "changedPropIds": ["shell-url.pathname"]}
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return json.dumps(r.get_json(), ensure_ascii=False)


def _worker(world, key: str) -> Worker:
    with world.services.db.read() as s:
        return s.get(Worker, world.ids[key])


def test_a_community_user_s_call_page_shows_only_its_own_workers(world):
    own, other = _worker(world, "worker_a"), _worker(world, "worker_b")
    assert own.code != other.code
    community = world.client("dispatcher_a")
    mine = route(community, "/call", f"?worker_id={own.id}&lang=en")
    assert own.code in mine and SHOWN in mine
    theirs = route(community, "/call", f"?worker_id={other.id}&lang=en")
    assert other.code not in theirs and SHOWN not in theirs  # read as an unknown worker
    assert t("call.no_worker", "en", id=str(other.id)) in theirs
    # the street's dispatcher still reaches every worker
    assert other.code in route(world.client("dispatcher"), "/call", f"?worker_id={other.id}&lang=en")


def test_an_out_of_range_worker_id_is_no_worker_not_an_error(world):
    text = route(world.client("dispatcher"), "/call", "?worker_id=99999999999999999999&lang=en")
    assert SHOWN not in text and "call-page-worker-search" in text  # the search form, as for no worker_id


def test_a_community_user_s_patrol_page_lists_its_own_grids(world):
    with world.services.db.read() as s:
        grid_a, grid_b = s.get(Grid, world.ids["grid_a"]), s.get(Grid, world.ids["grid_b"])
        names_a, names_b = grid_a.name, grid_b.name
    page = route(world.client("dispatcher_a"), "/patrol", "?lang=en")
    assert names_a in page and names_b not in page
    street = route(world.client("dispatcher"), "/patrol", "?lang=en")
    assert names_a in street and names_b in street


def test_a_community_user_s_start_page_counts_its_own_community(world):
    with world.services.db.read() as s:
        all_grids = s.scalar(select(func.count()).select_from(Grid))
        own_grids = s.scalar(select(func.count()).select_from(Grid).where(
            Grid.community_id == world.ids["community_a"]))
    assert 0 < own_grids < all_grids

    def grids_cell(client) -> str:
        return route(client, "/", "?lang=en")

    from dashboard.services.street_status import status_counts

    with world.services.db.read() as s:
        assert dict(status_counts(s, community_id=world.ids["community_a"]))["home.grids"] == own_grids
        assert dict(status_counts(s, community_id=None))["home.grids"] == all_grids
    assert f'"{own_grids:,}"' in grids_cell(world.client("dispatcher_a"))
    assert f'"{all_grids:,}"' in grids_cell(world.client("dispatcher"))


def test_a_community_user_s_console_offers_its_own_grids(world):
    with world.services.db.read() as s:
        name_a, name_b = s.get(Grid, world.ids["grid_a"]).name, s.get(Grid, world.ids["grid_b"]).name
    page = route(world.client("dispatcher_a"), "/console", "?lang=en")
    assert name_a in page and name_b not in page
    assert name_b in route(world.client("dispatcher"), "/console", "?lang=en")
