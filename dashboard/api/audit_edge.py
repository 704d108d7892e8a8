"""Audit from the edge: dispatches, case state changes, edits and exports are on record once they succeed.

A request whose rule is in ``AUDITED`` gets its audit row in the same transaction as its handler's first
write: the action and its record commit together (a crash can never leave a committed action unrecorded),
and on SQLite the request takes one write turn, not two. A handler that writes nothing (an export, a replay)
is recorded in a transaction of its own once it has answered successfully. A refused request rolls its writes
back and is not recorded.

Only the handler's own writes count: ``require`` sets ``g.gc_handler`` just before the view runs, so the
last-use stamp of an API key (written while the caller is identified) never carries the row.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event

from ..services import audit

# state-changing or exporting requests: rule → action name
AUDITED = {
    ("/api/v1/cases", "POST"): "case_create",
    ("/api/v1/cases/<int:case_id>/actions/<action>", "POST"): "case_action",
    ("/api/v1/cases/<int:case_id>/merge", "POST"): "case_merge",
    ("/api/v1/cases/<int:case_id>/triage", "POST"): "case_triage",
    ("/api/v1/me/tasks/<int:case_id>/<action>", "POST"): "task_action",
    ("/api/v1/alerts/<int:alert_id>/dispatch", "POST"): "alert_dispatch",
    ("/api/v1/alerts/<int:alert_id>/acknowledge", "POST"): "alert_ack",
    ("/api/v1/alerts/<int:alert_id>/resolve", "POST"): "alert_resolve",
    ("/api/v1/categories/<code>", "PATCH"): "category_edit",
    ("/api/v1/workers", "POST"): "worker_create",
    ("/api/v1/workers/<int:worker_id>/device-token", "POST"): "device_token_set",
    ("/api/v1/workers/<int:worker_id>/device-token", "DELETE"): "device_token_clear",
    ("/api/v1/briefing/export.<fmt>", "GET"): "export",
    ("/api/v1/replay", "GET"): "replay_view",
    ("/open311/v2/requests.<fmt>", "POST"): "open311_create",
    ("/api/v1/r/reports", "POST"): "resident_report",  # anonymous: the row has the address, never the phone
    ("/api/v1/notices", "POST"): "notice_publish",
    ("/api/v1/notices/<int:notice_id>/withdraw", "POST"): "notice_withdraw",
    ("/api/v1/visits", "POST"): "visit_create",
    ("/api/v1/visits/<int:visit_id>/case", "POST"): "visit_case",
}
# actions whose row names the record the request created (its code), found among the rows the handler flushed
CREATES = {"case_create": "case", "open311_create": "case", "visit_case": "case", "resident_report": "case"}
log = logging.getLogger(__name__)
_ROW = "gc_audit_row"  # session.info: this transaction carries the request's audit row


@dataclass
class Pending:
    """The audit row a request owes; ``written`` once a transaction carrying it committed."""

    action: str
    written: bool = False
    in_flight: bool = False
    created: str | None = None  # the row's target: "case:<code>" once the handler flushed it, or as named


def pending() -> Pending | None:
    """This request's owed audit row, or None (not an audited rule, or outside a request)."""
    return g.get("gc_audit") if has_request_context() else None


def name_target(target: str) -> None:
    """The record this request's audit row is about, when the URL does not name it (a replay's day)."""
    owed = pending()
    if owed is not None:
        owed.created = target


def act_as(principal) -> None:  # noqa: ANN001
    """For a handler that identifies its caller itself (Open311's ``api_key`` parameter): the audit row's actor,
    and from here on the writes are the handler's own (its row rides in their transaction)."""
    g.principal, g.gc_handler = principal, True


def _record(session, owed: Pending) -> None:  # noqa: ANN001
    """Add the row: who (the request's principal), what, to what (the URL's ``*_id``), the other URL and query
    arguments as the handler saw them (a community operator's pinned ``community``), from where."""
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    args = dict(request.view_args or {})
    target = owed.created or next((f"{k[:-3]}:{v}" for k, v in args.items() if k.endswith("_id")), rule)
    detail: dict[str, Any] = {k: v for k, v in args.items() if not k.endswith("_id")}
    if request.args:
        detail["query"] = dict(list(request.args.items())[:10])
    audit.record(session, g.get("principal"), owed.action, target, detail or None, request.remote_addr)


def register(app, services) -> None:
    @app.before_request
    def _owe_audit():
        rule = request.url_rule.rule if request.url_rule is not None else None
        action = AUDITED.get((rule, request.method))
        if action is not None:
            g.gc_audit = Pending(action)
        return None

    @event.listens_for(services.db.writer, "after_flush")
    def _note_created(session, _ctx):  # noqa: ANN001
        owed = pending()
        if owed is None or owed.created or owed.action not in CREATES:
            return
        from ..models import Case

        made = next((o for o in session.new if isinstance(o, Case)), None)
        if made is not None and made.code:
            owed.created = f"case:{made.code}"

    @event.listens_for(services.db.writer, "before_commit")
    def _carry_audit(session):  # noqa: ANN001
        owed = pending()
        if owed is None or owed.written or owed.in_flight or not g.get("gc_handler"):
            return
        if owed.action in CREATES and session.new:
            session.flush()  # the created record's code names the row
        _record(session, owed)
        owed.in_flight = True
        session.info[_ROW] = owed

    @event.listens_for(services.db.writer, "after_commit")
    def _audit_committed(session):  # noqa: ANN001
        owed = session.info.pop(_ROW, None)
        if owed is not None:
            owed.in_flight, owed.written = False, True

    @event.listens_for(services.db.writer, "after_rollback")
    def _audit_rolled_back(session):  # noqa: ANN001
        owed = session.info.pop(_ROW, None)
        if owed is not None:  # the commit failed: the row went with it; a later transaction or the edge carries it
            owed.in_flight = False

    @app.after_request
    def _audit_unwritten(resp):
        """An audited request that committed nothing (an export, a replay, a report whose concurrent twin
        committed first) is recorded here once it succeeded."""
        owed = pending()
        if owed is None or owed.written or resp.status_code >= 400:
            return resp
        owed.written = True  # this transaction carries it: the commit listener must not add a second row
        try:
            with services.db.write() as s:
                _record(s, owed)
        except Exception:  # the action is done; a failed audit write is logged, never turned into an error
            log.exception("audit write failed for %s %s", request.method, request.path)
        return resp
