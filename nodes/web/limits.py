"""A cap on request bodies, enforced before any route reads them (SECURITY V12: a 10 MB body gets 413, fast).

A plain ASGI middleware, so it sees the body as it arrives. A declared ``Content-Length`` above the cap is refused
at once, without reading a byte of the body; a body without one (chunked) is counted as it streams and refused as
soon as it passes the cap. Either way the route never runs on a truncated body and the connection is closed.

The cap is ``request_max_bytes`` everywhere but the roster upload, which takes ``roster_max_bytes`` plus room for
the multipart envelope.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nodes.settings import NodeSettings
from nodes.web.errors import error_response

ROSTER_PATH = "/admin/roster"
MULTIPART_ALLOWANCE = 64 * 1024


class BodyTooLarge(Exception):
    """Raised inside ``receive`` once the body passes the cap, to stop whoever is reading it."""


class BodyLimit:
    """ASGI middleware refusing request bodies larger than the cap of their path with 413."""

    def __init__(self, app: ASGIApp, default_max: int, roster_max: int) -> None:
        self.app = app
        self.default_max = default_max
        self.roster_max = roster_max

    def limit_for(self, path: str) -> tuple[int, int]:
        """The byte cap of ``path``, and the configured figure to name in the refusal."""
        if path == ROSTER_PATH or path.startswith(ROSTER_PATH + "/"):
            return self.roster_max + MULTIPART_ALLOWANCE, self.roster_max
        return self.default_max, self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, configured = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, configured)
            return
        received = 0
        exceeded = started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the route made of a partial body is dropped; the 413 goes out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, send, configured)

    async def _refuse(self, scope: Scope, send: Send, configured: int) -> None:
        detail = f"The request body is larger than this node accepts ({configured} bytes)."
        response = error_response(Request(scope), 413, "too_large", detail, {"Connection": "close"})
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install(app: FastAPI, settings: NodeSettings) -> None:
    """Add the body cap to ``app``; call it before the edge middleware so that 413s get the security headers."""
    app.add_middleware(BodyLimit, default_max=settings.request_max_bytes, roster_max=settings.roster_max_bytes)
