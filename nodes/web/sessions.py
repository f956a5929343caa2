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
from sqlalchemy import bindparam, delete, insert, select, update

from nodes.clock import aware
from nodes.context import NodeContext
from nodes.storage.direct import DirectConnection, DirectStatement
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
_INSERT_SESSION = DirectStatement(insert(_SESSIONS).values({name: bindparam(name) for name in _SESSION_COLUMNS}))
_DELETE_SESSION = DirectStatement(delete(_SESSIONS).where(_SESSIONS.c.token_hash == bindparam("hash")))
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
                member = Member(**{name: getattr(row, f"m__{name}") for name in _MEMBER_COLUMNS})
                request.state.session_member = (found.token_hash, member)
    request.state.web_session = found
    return found


def session_member(request: Request, session: BrowserSession) -> Member | None:
    """The member read together with ``session`` by :func:`current_session`, if that is the session it read."""
    joined: tuple[str, Member] | None = getattr(request.state, "session_member", None)
    return joined[1] if joined is not None and joined[0] == session.token_hash else None


def _create(request: Request, member_id: int | None, lang: str | None, ttl: timedelta,
            connection: DirectConnection | None = None) -> BrowserSession:
    """A new session row, in the caller's transaction on ``connection``, or else committed at once."""
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
    if connection is not None:
        connection.execute(_INSERT_SESSION, asdict(row))
    else:
        node.direct_reads.write(_INSERT_SESSION, asdict(row))
    request.state.web_session = row
    request.state.set_session_cookie = (token, int(ttl.total_seconds()))
    return row


def ensure_session(request: Request) -> BrowserSession:
    """The current session, or a new anonymous one (it carries the CSRF token and the language choice)."""
    return current_session(request) or _create(request, None, None, PRE_LOGIN_TTL)


def sign_in(request: Request, member_id: int, connection: DirectConnection) -> BrowserSession:
    """Replace the current session (if any) with a fresh authenticated one: the old id stops working.

    Written in the caller's transaction on ``connection``, with whatever else the sign-in records (one commit).
    """
    old = current_session(request)
    lang = old.lang if old else None
    if old is not None:
        end_session(request, old, clear_cookie=False, connection=connection)
    ttl = timedelta(hours=node_of(request).settings.session_ttl_hours)
    return _create(request, member_id, lang, ttl, connection)


def end_session(request: Request, row: BrowserSession, clear_cookie: bool = True,
                connection: DirectConnection | None = None) -> None:
    """Delete the session row, in the caller's transaction on ``connection``, or else at once."""
    if connection is not None:
        connection.execute(_DELETE_SESSION, {"hash": row.token_hash})
    else:
        node_of(request).direct_reads.write(_DELETE_SESSION, {"hash": row.token_hash})
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
    """Refuse (403) a form POST whose ``csrf_token`` does not match the session's."""
    row = current_session(request)
    form = await request.form()
    sent = form.get("csrf_token")
    if row is None or not isinstance(sent, str) or not hmac.compare_digest(sent, row.csrf_token):
        raise ProblemError(
            403, "csrf_failed", "This form has expired or was not sent by this site. Reload and try again."
        )
