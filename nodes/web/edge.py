"""The outermost middleware of a node: security headers, the session cookie, metrics, the request log, and the
masking of unexpected errors.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the rest
of the app in a separate task and pipes the response through memory streams, which cost more than the node's
hottest endpoints do themselves. Here the response passes straight through; only its ``http.response.start``
message is touched, to add what every answer carries:

* the security headers, unless the route set its own (``setdefault`` semantics);
* the session cookie that the request's handlers decided (``request.state``, :func:`nodes.web.sessions.apply_cookie`);
* after the answer, one metrics count and one log line under the route *template* (never the raw path).

An exception that escapes the app before the answer started is answered here, masked
(:func:`nodes.web.errors.unexpected_response`: 503 for an unavailable database, else 500 ``server_error``), so the
answer still gets the headers above and is counted.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nodes.observability import record_request
from nodes.web import errors
from nodes.web.sessions import apply_cookie

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_RAW_SECURITY_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                         for name, value in SECURITY_HEADERS.items()]
#: The ``request.state`` attributes through which handlers ask for a cookie change (see ``sessions.apply_cookie``).
_COOKIE_STATE = ("set_session_cookie", "clear_session_cookie")


class Edge:
    """ASGI middleware adding the node's headers and cookie to every HTTP answer, and counting it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False

        async def edge_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                message = {**message, "headers": _finished_headers(scope, message.get("headers", ()))}
            await send(message)

        try:
            try:
                await self.app(scope, receive, edge_send)
            except Exception as exc:  # answered here, not by Starlette's outer handler, to keep headers and metrics
                if answered:
                    raise  # too late to answer: the server closes the connection
                response = errors.unexpected_response(Request(scope), exc)
                await response(scope, receive, edge_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            record_request(scope["app"].state.metrics, scope["method"], route, status, time.perf_counter() - started)


def _finished_headers(scope: Scope, headers: object) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = list(headers)  # type: ignore[call-overload]
    state = scope.get("state")
    if state and any(name in state for name in _COOKIE_STATE):
        carrier = Response()
        carrier.raw_headers = []
        apply_cookie(Request(scope), carrier)
        out.extend(carrier.raw_headers)
    present = {name.lower() for name, _ in out}
    out.extend(header for header in _RAW_SECURITY_HEADERS if header[0] not in present)
    return out
