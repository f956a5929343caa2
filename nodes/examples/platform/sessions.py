"""The platform's sessions: kept on the server, the browser holds only a random session id.

authlib's Starlette client keeps its pending-authorization data (``state``, ``nonce``, the PKCE ``code_verifier``,
the redirect URI) in ``request.session``; the platform keeps there what each network told it, and the tokens it
got. None of that belongs in a cookie, signed or not, so ``request.session`` is a server-side dict and the cookie
is 256 random bits (``HttpOnly; SameSite=Lax``, ``Secure`` on https). The id is replaced when someone signs in
(session fixation) and the whole session dropped on sign-out. Sessions live in memory: the demo platform runs in
one process, and a restart signs everyone out, which is all a demo needs.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "alumnihub_session"
MAX_SESSIONS = 10_000
ROTATE = "platform.rotate_session"
DROP = "platform.drop_session"


class SessionStore:
    """Sessions by id, dropped after ``ttl`` seconds without use; the oldest go first when the store is full."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._sessions: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def get(self, session_id: str | None) -> dict[str, Any] | None:
        if not session_id or session_id not in self._sessions:
            return None
        seen, data = self._sessions[session_id]
        if time.monotonic() - seen > self.ttl:
            del self._sessions[session_id]
            return None
        return data

    def put(self, session_id: str, data: dict[str, Any]) -> None:
        self._sessions[session_id] = (time.monotonic(), data)
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def live(self) -> list[dict[str, Any]]:
        """Every session's data (what the platform holds about its visitors right now)."""
        return [data for _, data in self._sessions.values()]

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)


class ServerSessionMiddleware:
    """Gives every request ``request.session`` (the server-side dict) and sets the id cookie when needed."""

    def __init__(self, app: ASGIApp, store: SessionStore, secure: bool) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        old_id = HTTPConnection(scope).cookies.get(COOKIE)
        existing = self.store.get(old_id)
        data: dict[str, Any] = existing if existing is not None else {}
        scope["session"] = data

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = self._settle(scope, old_id if existing is not None else None, data)
                if cookie is not None:
                    MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _settle(self, scope: Scope, session_id: str | None, data: dict[str, Any]) -> str | None:
        """Store the session and return the ``Set-Cookie`` value to send, if any."""
        if scope.get(DROP) or (not data and session_id is not None):
            self.store.drop(session_id)
            return self._cookie("", max_age=0)
        if not data:
            return None
        if session_id is None or scope.get(ROTATE):
            self.store.drop(session_id)
            session_id = secrets.token_urlsafe(32)
            self.store.put(session_id, data)
            return self._cookie(session_id, max_age=int(self.store.ttl))
        self.store.put(session_id, data)
        return None

    def _cookie(self, value: str, max_age: int) -> str:
        flags = f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        return flags + ("; Secure" if self.secure else "")


def rotate_session(scope: Scope) -> None:
    """Give the session a new id at the end of this request (after a sign-in)."""
    scope[ROTATE] = True


def drop_session(scope: Scope) -> None:
    """Forget the session and clear the cookie at the end of this request (sign-out)."""
    scope[DROP] = True
