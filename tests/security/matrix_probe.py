"""Shared helpers for the access matrix: every (rule, method) with sample arguments, and the probe."""
from __future__ import annotations

import re

ROLES = ["anonymous", "admin", "dispatcher", "dispatcher_a", "leader", "worker", "integration", "display"]
SAMPLE = {"fmt": "json", "action": "x", "code": "x", "rest": "x", "path": "x", "filename": "x", "name": "x",
          "package_name": "x", "fingerprinted_path": "x", "service_request_id": "999999", "service_code": "x",
          "token_id": "x"}


def endpoints(app) -> list[tuple[str, str]]:
    """Every (rule, method) the server answers, HEAD and OPTIONS aside."""
    out = set()
    for r in app.url_map.iter_rules():
        for m in r.methods - {"HEAD", "OPTIONS"}:
            out.add((r.rule, m))
    return sorted(out)


def fill(rule: str) -> str:
    """A concrete path: ints are a missing id (no side effects), other parts a harmless word."""
    def one(m: re.Match) -> str:
        conv, name = (m.group(1) or ""), m.group(2)
        return "999999" if conv.startswith("int") else SAMPLE.get(name, "x")

    return re.sub(r"<(?:(\w+(?:\([^)]*\))?):)?(\w+)>", one, rule)


def probe(client, rule: str, method: str) -> int:
    path = fill(rule)
    kw = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    return client.open(path, method=method, **kw).status_code


def allowed(status: int) -> bool:
    """Access granted: anything but 401/403 (a 404/422 on a sample id or body is past the door)."""
    return status not in (401, 403)
