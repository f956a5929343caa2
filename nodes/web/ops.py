"""Operations endpoints: liveness (``/healthz``), readiness (``/readyz``) and Prometheus metrics (``/metrics``).

Liveness never touches the database, so an orchestrator does not restart a node for a database outage that a
restart cannot cure. Readiness proves the database accepts *writes*, because that is what a node cannot work
without and what the usual outages take away first: a read-only file or file system, another process holding
SQLite's write lock, a full disk, a PostgreSQL standby or a server that is gone. Both answer ``no-store``.
"""

from __future__ import annotations

import logging
import sqlite3

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from nodes.observability import Metrics
from nodes.web.errors import RETRY_AFTER_SECONDS
from nodes.web.sessions import node_of

router = APIRouter()
log = logging.getLogger("passerelle.ops")
NO_STORE = {"Cache-Control": "no-store"}
# A readiness probe must answer within the orchestrator's timeout even when another process holds the lock.
PROBE_BUSY_TIMEOUT_MS = 1000


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and accepts a write. 503 while it does not, so a balancer stops sending."""
    try:
        check_database_writable(node_of(request).engine)
    except SQLAlchemyError as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("readiness check failed: %s", reason)
        body = {
            "status": "unavailable",
            "checks": {"database": "unavailable"},
            "error": "temporarily_unavailable",
            "error_description": "The database cannot be reached or does not accept writes.",
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS, **NO_STORE})
    return JSONResponse({"status": "ready", "checks": {"database": "ok"}}, headers=NO_STORE)


def check_database_writable(engine: Engine) -> None:
    """Raise a SQLAlchemy error unless the database answers a query and commits a write.

    SQLite: rewrite the header's ``user_version`` with its own value inside ``BEGIN IMMEDIATE`` and commit; that
    takes the write lock (another writer: ``SQLITE_BUSY`` after a short wait), is refused by a read-only file
    (``SQLITE_READONLY``) and appends a frame to the WAL (a full disk: ``SQLITE_FULL``), without touching any
    table. PostgreSQL: the connection itself is the main check; a read-only server (a standby) is not ready.
    """
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        if engine.dialect.name == "sqlite":
            driver = connection.connection.driver_connection
            assert driver is not None  # a live connection of the pool
            _probe_sqlite_write(driver)
        elif connection.execute(text("SHOW transaction_read_only")).scalar() == "on":
            raise _ReadOnlyDatabase("the PostgreSQL server only accepts reads")


class _ReadOnlyDatabase(SQLAlchemyError):
    """The database answers but refuses writes."""


def _probe_sqlite_write(raw: sqlite3.Connection) -> None:
    try:
        previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        raw.execute(f"PRAGMA busy_timeout = {PROBE_BUSY_TIMEOUT_MS}")
        try:
            version = int(raw.execute("PRAGMA user_version").fetchone()[0])
            raw.execute("BEGIN IMMEDIATE")
            try:
                raw.execute(f"PRAGMA user_version = {version}")
                raw.execute("COMMIT")
            finally:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
        finally:
            raw.execute(f"PRAGMA busy_timeout = {previous}")
    except sqlite3.Error as exc:
        raise OperationalError("readiness write probe", None, exc) from exc


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the node's own registry (request counts and latency, sign-ins, outages)."""
    registry = request.app.state.metrics
    assert isinstance(registry, Metrics)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)
