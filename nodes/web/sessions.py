"""Browser sessions and CSRF protection, stored in the database so a second worker sees them.

The cookie carries a random token; the database keys the session by the token's SHA-256. Over HTTPS the cookie is
``__Host-passerelle; Secure; HttpOnly; SameSite=Lax; Path=/``; a development node on http://localhost drops the
``Secure`` flag and the ``__Host-`` prefix, which browsers would refuse over plain HTTP.

Every form carries the session's CSRF token (synchronizer-token pattern); :func:`check_csrf` compares it in constant
time. Signing in replaces the session with a fresh one (session fixation, SECURITY W1).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import bindparam, delete, insert, select, update

from nodes.clock import aware
from nodes.context import NodeContext
from nodes.storage.direct import DirectRow, DirectStatement
from nodes.storage.models import Member, WebSession
from nodes.web.errors import ProblemError

PRE_LOGIN_TTL = timedelta(hours=2)

_SESSIONS = WebSession.__table__  # type: ignore[attr-defined]
_MEMBERS = Member.__table__  # type: ignore[attr-defined]
_SESSION_COLUMNS = tuple(column.name for column in _SESSIONS.c)
_MEMBER_COLUMNS = tuple(column.name for column in _MEMBERS.c)
# The session of a cookie with its member, in one read on the direct pool (nodes/storage/direct.py): nearly every
# page asks for both, and on PostgreSQL a session of the ORM pool costs four round trips (pre-ping, BEGIN, SELECT,
# ROLLBACK) where this costs one.
_SESSION_WITH_MEMBER = DirectStatement(
    select(_SESSIONS, *[column.label(f"m__{column.name}") for column in _MEMBERS.c])
    .select_from(_SESSIONS.outerjoin(_MEMBERS, _MEMBERS.c.id == _SESSIONS.c.member_id))
    .where(_SESSIONS.c.token_hash == bindparam("hash"))
)
# Sessions are written on the direct pool too: one is created for each new visitor and replaced at each sign-in,
# and an ORM unit of work cost several times the statement.
_SESSION_START = insert(_SESSIONS).values({name: bindparam(name) for name in _SESSION_COLUMNS})
_SESSION_END = delete(_SESSIONS).where(_SESSIONS.c.token_hash == bindparam("old_token_hash"))
_INSERT_SESSION = DirectStatement(_SESSION_START)
_DELETE_SESSION = DirectStatement(_SESSION_END)
#: The writes of :func:`replacement` (the old session's end, the new one's start), for the sign-in's batch
#: (nodes/storage/direct.py, ``DirectBatch``) with whatever else the sign-in records.
REPLACEMENT_WRITES = (_SESSION_END, _SESSION_START)
_SET_LANGUAGE = DirectStatement(
    update(_SESSIONS).where(_SESSIONS.c.token_hash == bindparam("hash")).values(lang=bindparam("lang")))


@dataclass
class BrowserSession:
    """A row of ``web_session`` as the pages use it (a plain object: the ORM is not involved)."""

    token_hash: str
    member_id: int | None
    csrf_token: str
    lang: str | None
    created_at: datetime
    expires_at: datetime
    auth_time: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name(node: NodeContext) -> str:
    """``__Host-passerelle`` over HTTPS. Development nodes share the host ``localhost`` and browsers do not
    separate cookies by port, so there the port is part of the name: two demo nodes keep separate sessions."""
    if node.settings.https:
        return "__Host-passerelle"
    return f"passerelle_{urlsplit(node.settings.base_url).port or 80}"


def node_of(request: Request) -> NodeContext:
    node: NodeContext = request.app.state.node
    return node


def current_session(request: Request) -> BrowserSession | None:
    """The live session of the request's cookie, or ``None``. Cached on ``request.state``."""
    if hasattr(request.state, "web_session"):
        cached: BrowserSession | None = request.state.web_session
        return cached
    node = node_of(request)
    token = request.cookies.get(cookie_name(node))
    found = None
    if token:
        with node.direct_reads.connection() as connection:
            row = connection.first(_SESSION_WITH_MEMBER, {"hash": token_hash(token)})
        if row is not None and aware(row.expires_at) > node.clock():
            found = BrowserSession(**{name: getattr(row, name) for name in _SESSION_COLUMNS})
            if row.m__id is not None:
                member = member_of(row, "m__")
                request.state.session_member = (found.token_hash, member)
    request.state.web_session = found
    return found


def member_of(row: DirectRow, prefix: str = "") -> Member:
    """The ``member`` columns of a direct row (named ``<prefix><column>``) as a :class:`Member`."""
    return Member(**{name: getattr(row, f"{prefix}{name}") for name in _MEMBER_COLUMNS})


def session_member(request: Request, session: BrowserSession) -> Member | None:
    """The member read together with ``session`` by :func:`current_session`, if that is the session it read."""
    joined: tuple[str, Member] | None = getattr(request.state, "session_member", None)
    return joined[1] if joined is not None and joined[0] == session.token_hash else None


def _new_session(request: Request, member_id: int | None, lang: str | None,
                 ttl: timedelta) -> tuple[BrowserSession, str]:
    node = node_of(request)
    token = secrets.token_urlsafe(32)
    now = node.clock()
    row = BrowserSession(
        token_hash=token_hash(token),
        member_id=member_id,
        csrf_token=secrets.token_urlsafe(32),
        lang=lang,
        created_at=now,
        expires_at=now + ttl,
        auth_time=now if member_id is not None else None,
    )
    return row, token


def _adopt(request: Request, row: BrowserSession, token: str, ttl: timedelta) -> BrowserSession:
    """The stored ``row`` is the request's session from now on; the response sets its cookie."""
    request.state.web_session = row
    request.state.set_session_cookie = (token, int(ttl.total_seconds()))
    return row


def ensure_session(request: Request) -> BrowserSession:
    """The current session, or a new anonymous one (it carries the CSRF token and the language choice)."""
    found = current_session(request)
    if found is not None:
        return found
    row, token = _new_session(request, None, None, PRE_LOGIN_TTL)
    node_of(request).direct_reads.write(_INSERT_SESSION, asdict(row))
    return _adopt(request, row, token, PRE_LOGIN_TTL)


@dataclass
class Replacement:
    """A signed-in session about to replace the current one (session fixation, SECURITY W1): the parameters of
    :data:`REPLACEMENT_WRITES`, which the caller commits with the rest of the sign-in, then :meth:`adopt`."""

    row: BrowserSession
    token: str
    ttl: timedelta
    params: dict[str, object]

    def adopt(self, request: Request) -> BrowserSession:
        return _adopt(request, self.row, self.token, self.ttl)


def replacement(request: Request, member_id: int) -> Replacement:
    """The fresh authenticated session that replaces the current one, if any (keeping its language): the old id
    stops working once :data:`REPLACEMENT_WRITES` are committed with these parameters."""
    old = current_session(request)
    ttl = timedelta(hours=node_of(request).settings.session_ttl_hours)
    row, token = _new_session(request, member_id, old.lang if old else None, ttl)
    # No current session: the delete matches no row (``token_hash = NULL`` is never true).
    return Replacement(row, token, ttl, {**asdict(row), "old_token_hash": old.token_hash if old else None})


def end_session(request: Request, row: BrowserSession, clear_cookie: bool = True) -> None:
    """Delete the session row (signing out)."""
    node_of(request).direct_reads.write(_DELETE_SESSION, {"old_token_hash": row.token_hash})
    request.state.web_session = None
    if clear_cookie:
        request.state.clear_session_cookie = True


def set_language(request: Request, lang: str) -> None:
    row = ensure_session(request)
    node_of(request).direct_reads.write(_SET_LANGUAGE, {"hash": row.token_hash, "lang": lang})
    row.lang = lang


def apply_cookie(request: Request, response: Response) -> None:
    """Write the cookie changes that the request's handlers decided (called by the middleware)."""
    node = node_of(request)
    name = cookie_name(node)
    pending = getattr(request.state, "set_session_cookie", None)
    if pending:
        token, max_age = pending
        response.set_cookie(
            name, token, max_age=max_age, path="/", secure=node.settings.https, httponly=True, samesite="lax"
        )
    elif getattr(request.state, "clear_session_cookie", False):
        response.delete_cookie(name, path="/", secure=node.settings.https, httponly=True, samesite="lax")


async def check_csrf(request: Request) -> None:
    """Refuse (403) a form POST whose ``csrf_token`` does not match the session's.

    The session, unless a dependency before this one read it, is read in a worker thread: the event loop never
    waits on the database, so a slow database holds up the requests that need it, not ``/healthz`` and the rest.
    """
    form = await request.form()
    sent = form.get("csrf_token")
    read = hasattr(request.state, "web_session")
    row = current_session(request) if read else await run_in_threadpool(current_session, request)
    if row is None or not isinstance(sent, str) or not hmac.compare_digest(sent, row.csrf_token):
        raise ProblemError(
            403, "csrf_failed", "This form has expired or was not sent by this site. Reload and try again."
        )
