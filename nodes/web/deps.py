"""FastAPI dependencies shared by the routers: the node, the signed-in member, the admin guard, CSRF."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from nodes.context import NodeContext
from nodes.storage.models import Member
from nodes.web.errors import ProblemError
from nodes.web.sessions import check_csrf, current_session, node_of, session_member


def peer_address(request: Request) -> str | None:
    """The client's address as the server reports it (behind a proxy, uvicorn's ``--forwarded-allow-ips`` decides
    whether ``X-Forwarded-For`` is believed); for audit events and throttles."""
    return request.client.host if request.client else None


def client_address(request: Request) -> str:
    """:func:`peer_address`, or ``unknown`` when the server reports none: what the throttles count failures by
    (member sign-in, :mod:`nodes.throttle`; client authentication at the token endpoint, :mod:`nodes.oidc.adapter`)."""
    return peer_address(request) or "unknown"


def get_node(request: Request) -> NodeContext:
    return node_of(request)


def current_member(request: Request) -> Member | None:
    """The signed-in member, or ``None``. Cached on ``request.state``; sets ``request.state.is_admin``."""
    if hasattr(request.state, "member"):
        cached: Member | None = request.state.member
        return cached
    row = current_session(request)
    member = None
    if row is not None and row.member_id is not None:
        member = session_member(request, row)
        if member is None:  # a session this request created (sign-in), not the one it read
            with Session(node_of(request).engine, expire_on_commit=False) as db:
                member = db.get(Member, row.member_id)
    request.state.member = member
    request.state.is_admin = bool(member and member.is_admin)
    return member


def require_member(request: Request) -> Member:
    """The signed-in member; anyone else is sent to the sign-in page (303) from a page, 401 from an API."""
    member = current_member(request)
    if member is None:
        from urllib.parse import quote

        raise ProblemError(
            401, "login_required", "Please sign in.",
            headers={"Location": "/signin?next=" + quote(request.url.path, safe="/")},
        )
    return member


def require_admin(request: Request) -> Member:
    member = require_member(request)
    if not member.is_admin:
        raise ProblemError(403, "forbidden", "This page is for the organisation's administrators.")
    return member


NodeDep = Annotated[NodeContext, Depends(get_node)]
MemberDep = Annotated[Member, Depends(require_member)]
AdminDep = Annotated[Member, Depends(require_admin)]
CsrfChecked = Depends(check_csrf)
