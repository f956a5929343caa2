"""Claiming an account from an invitation, signing in and signing out.

Every POST checks the CSRF token before reading anything else (403 page, nothing stored). Sign-in replaces the
session with a fresh one (session fixation, SECURITY W1), only follows a ``next`` that is a path of this site
(W3), and is throttled per account and per address (W6, :mod:`nodes.throttle`): while locked it answers 429 with
``Retry-After`` without checking the password. An unusable claim link gets a readable page, 400 for an unknown
link and 410 for a used or expired one.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import bindparam, literal, select, update

from nodes import audit, throttle
from nodes.audit import record
from nodes.context import NodeContext
from nodes.i18n import translate
from nodes.invitations import InvitationState, InvitationUnusable, claim, find_invitation, invitation_state
from nodes.members import InvalidEmail, email_key, hash_password, needs_rehash, password_problem, verify_password
from nodes.storage.db import transaction
from nodes.storage.direct import DirectBatch, DirectStatement
from nodes.storage.models import Member
from nodes.web.deps import CsrfChecked, client_address, current_member
from nodes.web.pages import language, render
from nodes.web.redirects import safe_next
from nodes.web.sessions import REPLACEMENT_WRITES, current_session, end_session, member_of, node_of, replacement

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}
AFTER_SIGN_IN = "/me"
_REFUSED_STATUS = {"unknown": 400, "used": 410, "expired": 410}

_MEMBERS = Member.__table__  # type: ignore[attr-defined]
# A sign-in's reads and writes go through the direct pool (nodes/storage/direct.py): the password check is the
# cost a sign-in should have, not the ORM's units of work around it.
# The member of an e-mail key (if any) with the latest lock of the sign-in's throttle keys: one statement.
_MEMBER_AND_LOCK = DirectStatement(
    select(throttle.LATEST_LOCK.label("locked_until"), *[column.label(f"m__{column.name}") for column in _MEMBERS.c])
    .select_from(select(literal(1).label("one")).subquery().outerjoin(
        _MEMBERS, _MEMBERS.c.email_key == bindparam("key")))
)
_REHASH = DirectStatement(update(_MEMBERS).where(_MEMBERS.c.id == bindparam("id"))
                          .values(password_hash=bindparam("hash")))
_SIGN_IN = DirectBatch(*REPLACEMENT_WRITES, audit.INSERT)
_SIGN_IN_CLEARING = DirectBatch(throttle.CLEAR, *REPLACEMENT_WRITES, audit.INSERT)  # after a password


# --- claiming an invitation -----------------------------------------------------------------------------------


@router.get("/claim/{token}", response_class=HTMLResponse)
def claim_form(request: Request, token: str) -> HTMLResponse:
    node = node_of(request)
    invitation, member = find_invitation(node, token)
    state = invitation_state(invitation, node.clock())
    if state != "valid" or member is None:
        return _claim_refused(request, state)
    return render(request, "claim.html", {"member": member, "token": token, "errors": {}}, headers=NO_STORE)


@router.post("/claim/{token}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def claim_submit(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """Check the two passwords, then use the invitation and sign the member in."""
    node = node_of(request)
    invitation, member = find_invitation(node, token)
    state = invitation_state(invitation, node.clock())
    if state != "valid" or member is None:
        return _claim_refused(request, state)
    lang = language(request)
    errors: dict[str, str] = {}
    if problem := password_problem(password):
        errors["password"] = translate(lang, problem)
    elif password != password_confirm:
        errors["password_confirm"] = translate(lang, "claim.mismatch")
    if errors:
        context = {"member": member, "token": token, "errors": errors}
        return render(request, "claim.html", context, status_code=400, headers=NO_STORE)
    try:
        claimed = claim(node, token, password, ip=client_address(request))
    except InvitationUnusable as exc:
        return _claim_refused(request, exc.state)
    _start_session(request, node, claimed, via="claim")
    return RedirectResponse(AFTER_SIGN_IN, status_code=303, headers=NO_STORE)


def _claim_refused(request: Request, state: InvitationState) -> HTMLResponse:
    status = _REFUSED_STATUS.get(state, 400)
    return render(request, "claim_refused.html", {"state": state}, status_code=status, headers=NO_STORE)


# --- signing in and out ---------------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = AFTER_SIGN_IN) -> HTMLResponse:
    context = {"next": safe_next(next, AFTER_SIGN_IN), "email": "", "error": None}
    return render(request, "signin.html", context, headers=NO_STORE)


@router.post("/signin", response_class=HTMLResponse, dependencies=[CsrfChecked])
def signin_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = AFTER_SIGN_IN,
) -> Response:
    """Throttle first, then check the password (always at the cost of one argon2 check), then rotate the session."""
    node = node_of(request)
    target = safe_next(next, AFTER_SIGN_IN)
    ip = client_address(request)
    if not email.strip() or not password:
        return _signin_page(request, target, email, "signin.missing", 400)
    key = _email_key_or_none(email)
    limits = [(throttle.address_key(ip), throttle.ADDRESS_THRESHOLD)]
    if key is not None:
        limits.append((throttle.account_key(key), throttle.ACCOUNT_THRESHOLD))
    with node.direct_reads.connection() as connection:
        row = connection.first(_MEMBER_AND_LOCK, {"key": key, **throttle.lock_keys([k for k, _ in limits])})
    assert row is not None  # one row, with or without a member
    wait = throttle.seconds_until(row.locked_until, node.clock())
    if wait is not None:
        with transaction(node.engine) as db:
            record(db, node.clock, "anonymous", "auth.signin.failed", ip=ip, reason="throttled")
        return _throttled(request, target, email, wait)
    member = member_of(row, "m__") if row.m__id is not None else None
    # verify_password runs even for an unknown account (against a dummy hash): equal timing, no enumeration.
    verified = verify_password(member.password_hash if member else None, password)
    if member is None or not verified:
        with transaction(node.engine) as db:
            wait = throttle.register_failure(db, node.clock(), limits)
            record(db, node.clock, "anonymous", "auth.signin.failed", target=member.public_id if member else None,
                   ip=ip, reason="bad_credentials")
        if wait is not None:
            return _throttled(request, target, email, wait)
        return _signin_page(request, target, email, "signin.failed", 400)
    assert key is not None
    rehashed = hash_password(password) if member.password_hash and needs_rehash(member.password_hash) else None
    _start_session(request, node, member, via="password", clear_throttle=throttle.account_key(key),
                   new_password_hash=rehashed)
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request) -> RedirectResponse:
    sign_out(request, ip=client_address(request))
    return RedirectResponse("/", status_code=303, headers=NO_STORE)


def sign_out(request: Request, ip: str | None = None, **detail: object) -> None:
    """End the browser's session and, when a member was signed in, say so in the audit log: the sign-out page and
    RP-initiated logout (:mod:`nodes.oidc.logout_routes`) end a session the same way."""
    node = node_of(request)
    member = current_member(request)
    row = current_session(request)
    if row is not None:
        end_session(request, row)
    if member is not None:
        with transaction(node.engine) as db:
            record(db, node.clock, member.public_id, "auth.signout", target=member.public_id, ip=ip, **detail)


def _start_session(request: Request, node: NodeContext, member: Member, via: str,
                   clear_throttle: str | None = None, new_password_hash: str | None = None) -> None:
    """The new session, the audit event and the cleared failure counter, committed together (one statement on
    PostgreSQL); a password hash made again with the current parameters (:func:`nodes.members.needs_rehash`)."""
    assert member.id is not None
    if new_password_hash is not None:
        node.direct_reads.write(_REHASH, {"id": member.id, "hash": new_password_hash})
    fresh = replacement(request, member.id)
    event = audit.values(node.clock, member.public_id, "auth.signin.ok", target=member.public_id,
                         ip=client_address(request), via=via)
    params = {**fresh.params, **event}
    if clear_throttle is None:
        node.direct_reads.write(_SIGN_IN, params)
    else:
        node.direct_reads.write(_SIGN_IN_CLEARING, {**params, "key": clear_throttle})
    fresh.adopt(request)


def _email_key_or_none(email: str) -> str | None:
    try:
        return email_key(email)
    except InvalidEmail:
        return None


def _signin_page(request: Request, target: str, email: str, message: str, status: int,
                 headers: dict[str, str] | None = None, **values: int) -> HTMLResponse:
    error = translate(language(request), message, **values)
    context = {"next": target, "email": email, "error": error}
    return render(request, "signin.html", context, status_code=status, headers={**NO_STORE, **(headers or {})})


def _throttled(request: Request, target: str, email: str, wait: int) -> HTMLResponse:
    minutes = max(1, math.ceil(wait / 60))
    return _signin_page(request, target, email, "signin.throttled", 429, {"Retry-After": str(wait)},
                        minutes=minutes)
