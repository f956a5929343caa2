"""Errors turned into responses once, at the edge.

APIs answer RFC 9457 problem+json (with the OAuth-style ``error`` and ``error_description`` beside it); pages answer
a readable HTML page in the visitor's language. The unexpected is masked as ``server_error`` (no trace, SQL, path
or secret in the answer) and logged with detail, redacted (:mod:`nodes.observability`).

A database that cannot be reached or written (PostgreSQL down, SQLite locked by another process, a read-only file,
a full disk) is not the request's fault: it answers 503 with ``Retry-After`` and ``temporarily_unavailable``, so
clients retry and a balancer can move traffic; :func:`database_unavailable` decides from the driver's error code.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nodes.problems import Problem

log = logging.getLogger("passerelle.errors")
RETRY_AFTER_SECONDS = "5"
UNAVAILABLE_DETAIL = "The service is temporarily unavailable; please try again shortly."

# SQLite primary result codes that mean "the database, not the request": BUSY, LOCKED, NOMEM, READONLY, IOERR,
# FULL, CANTOPEN, PROTOCOL (https://www.sqlite.org/rescode.html).
_SQLITE_UNAVAILABLE = {5, 6, 7, 8, 10, 13, 14, 15}
# PostgreSQL SQLSTATE classes and codes of the same kind: connection exception, insufficient resources (disk
# full, too many connections), operator intervention (shutdown, cancelled by timeout), system error; read-only
# transaction (a standby), serialization failure and deadlock (retry), lock not available.
_PG_UNAVAILABLE_CLASSES = {"08", "53", "57", "58"}
_PG_UNAVAILABLE_CODES = {"25006", "40001", "40P01", "55P03"}


class ProblemError(Problem):
    """A :class:`~nodes.problems.Problem` raised by the web layer, answered as problem+json (API) or a page
    (browser), with extra response ``headers`` if any."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, detail)
        self.headers = headers or {}


def wants_html(request: Request) -> bool:
    """Pages are for browsers: an ``Accept`` that prefers HTML and a path outside the APIs."""
    accept = request.headers.get("accept", "")
    api = request.url.path.startswith(("/api/", "/credentials/", "/presentations/", "/.well-known/"))
    return "text/html" in accept and not api


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://passerelle.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "error": code,
        "error_description": detail,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _respond(request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None) -> Response:
    if wants_html(request):
        from nodes.web.pages import render_error

        if code == "login_required" and headers and "Location" in headers:
            return RedirectResponse(headers["Location"], status_code=303)

        return render_error(request, status, code, detail, headers)
    return problem(status, code, detail, headers)


def error_response(
    request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The answer for an error decided outside a route (a middleware): problem+json, or a page for browsers."""
    return _respond(request, status, code, detail, headers)


def database_unavailable(exc: DBAPIError) -> bool:
    """True when ``exc`` says the database is unreachable or refuses writes, rather than the query being wrong."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return (sqlite_code & 0xFF) in _SQLITE_UNAVAILABLE
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state:
        return state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_CODES
    # No code at all: the driver could not open a connection (refused, timed out, DNS).
    return isinstance(exc, OperationalError)


def unavailable_response(request: Request) -> Response:
    """503 + ``Retry-After``: JSON ``temporarily_unavailable`` for APIs, a page that needs no database for browsers."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.database_unavailable.inc()
    headers = {"Retry-After": RETRY_AFTER_SECONDS, "Cache-Control": "no-store"}
    return _respond(request, 503, "temporarily_unavailable", UNAVAILABLE_DETAIL, headers)


def unexpected_response(request: Request, exc: Exception) -> Response:
    """The masked answer to an exception no handler knew: logged with its traceback (redacted), 500 to the client.

    Called by the edge middleware too, so that the answer still carries the security headers and is counted.
    """
    if isinstance(exc, DBAPIError) and database_unavailable(exc):
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return unavailable_response(request)
    if isinstance(exc, PoolTimeoutError | DisconnectionError):
        log.error("database unavailable: %s", type(exc).__name__)
        return unavailable_response(request)
    log.error("unexpected error on %s %s", request.method, _route(request), exc_info=exc)
    return _respond(request, 500, "server_error", "An unexpected error occurred.", None)


def _route(request: Request) -> str:
    """The route template (``/claim/{token}``): raw paths can carry secrets."""
    return getattr(request.scope.get("route"), "path", "unmatched")


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return _respond(request, exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "invalid_request")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return _respond(request, exc.status_code, code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()[:10])
        return _respond(request, 400, "invalid_request", f"invalid request ({fields})", None)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        return unexpected_response(request, exc)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> Response:
        return unexpected_response(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_response(request, exc)
