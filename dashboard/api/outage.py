"""While the database is unreachable (restart, failover, network), answer 503 JSON, not a crash.

The engine pings connections before use (``pool_pre_ping``), so once the database
is back the next request simply gets a fresh connection: recovery needs nothing.
Nothing was written by a request that got this answer, so the client may retry it
(with the same idempotency key for reports).
"""
from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, TimeoutError as PoolTimeout

from .errors import error_response

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
MESSAGE = ("the database is unavailable right now (restarting or unreachable); nothing was changed — "
           "retry in a few seconds")


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean "cannot reach the database", not "bad statement"."""
    if isinstance(exc, (OperationalError, DisconnectionError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def outage_response(exc: BaseException):
    """The 503 answer: the standard error shape plus ``Retry-After``."""
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    body, status = error_response(503, MESSAGE)
    body.headers["Retry-After"] = str(RETRY_AFTER_S)
    return body, status


def register(app, services) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def _db_unavailable(e):
        return outage_response(e)

    @app.errorhandler(DBAPIError)
    def _db_error(e: DBAPIError):
        if is_outage(e):
            return outage_response(e)
        raise e  # a real bug: let Flask answer 500 and log it
