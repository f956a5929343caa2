"""Errors turned into responses once, at the edge.

APIs answer RFC 9457 problem+json; pages answer a readable HTML page in the visitor's language. The unexpected is
masked (no trace, SQL or secret in the answer) and logged with detail. A database that cannot be reached or
written answers 503 with ``Retry-After`` and ``temporarily_unavailable``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("passerelle.errors")
RETRY_AFTER_SECONDS = "5"


class ProblemError(Exception):
    """An error with its wire code and HTTP status, answered as problem+json (API) or a page (browser)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
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


def _is_unavailable(exc: DBAPIError) -> bool:
    """Connection refused, database locked, read-only file, disk full: the database, not the request."""
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(s in text for s in ("readonly", "read-only", "disk", "full", "locked", "connection"))


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
        if _is_unavailable(exc):
            log.error("database unavailable: %s", type(getattr(exc, "orig", exc)).__name__)
            return _respond(
                request, 503, "temporarily_unavailable",
                "The service is temporarily unavailable; please try again shortly.",
                {"Retry-After": RETRY_AFTER_SECONDS},
            )
        log.exception("database error")
        return _respond(request, 500, "server_error", "An unexpected error occurred.", None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "server_error", "An unexpected error occurred.", None)
