"""Invitations: single-use, expiring claim links that let a roster member choose their password.

The raw token lives only in the link sent to the member; the ``invitation`` table keeps its SHA-256, so a copy of
the database cannot claim an account. Issuing a new invitation ends the member's earlier unused ones (their
``expires_at`` is set to now), so only the newest link works. An invitation sent to a member who already claimed
their account works as a password-reset link; claiming ends every session the member had.

Claiming marks the invitation used with a conditional UPDATE (``used_at IS NULL``) in the same transaction that
stores the password, so two concurrent claims of one link cannot both succeed, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from nodes import i18n, mailer
from nodes.audit import record
from nodes.clock import aware
from nodes.context import NodeContext
from nodes.members import hash_password
from nodes.settings import SUPPORTED_LANGUAGES
from nodes.storage.db import transaction
from nodes.storage.models import Invitation, Member, WebSession

InvitationState = Literal["valid", "used", "expired", "unknown"]
_CHUNK = 500  # members per IN (...) query, well under SQLite's and PostgreSQL's parameter limits
_MAX_TOKEN_LENGTH = 100


class UnknownMembers(ValueError):
    """Some member ids do not exist; nothing was issued."""

    def __init__(self, missing: list[int]) -> None:
        super().__init__(f"unknown member ids: {', '.join(map(str, missing[:20]))}")
        self.missing = missing


class InvitationDeliveryError(mailer.DeliveryError):
    """Invitations were stored but some could not be sent; re-issuing them invalidates the undelivered links."""

    def __init__(self, delivered: list[tuple[int, str]], failed: list[int], reason: str) -> None:
        super().__init__(f"{len(failed)} invitation(s) could not be sent: {reason}")
        self.delivered = delivered
        self.failed = failed


class InvitationUnusable(Exception):
    """The claim link is unknown, already used, or expired (``state`` says which)."""

    def __init__(self, state: InvitationState) -> None:
        super().__init__(state)
        self.state = state


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claim_link(base_url: str, token: str) -> str:
    return f"{base_url}/claim/{token}"


def issue_invitations(node: NodeContext, member_ids: Iterable[int], actor: str = "cli") -> list[tuple[int, str]]:
    """Create one claim link per member, store only its hash, and send it. Returns ``(member_id, link)`` pairs.

    Unknown ids raise :class:`UnknownMembers` before anything is stored. All invitations and their audit events
    are stored in one transaction, then sent; a delivery failure raises :class:`InvitationDeliveryError`.
    """
    ids = list(dict.fromkeys(member_ids))
    now = node.clock()
    expires_at = now + timedelta(hours=node.settings.invitation_ttl_hours)
    via = "smtp" if node.settings.smtp.host else "outbox"
    issued: list[tuple[int, str]] = []
    messages: list[EmailMessage] = []
    with transaction(node.engine) as db:
        members = _load_members(db, ids)
        for chunk in _chunks(ids):
            db.exec(
                update(Invitation)
                .where(col(Invitation.member_id).in_(chunk), col(Invitation.used_at).is_(None),
                       col(Invitation.expires_at) > now)
                .values(expires_at=now)
            )
        for member_id in ids:
            member = members[member_id]
            token = secrets.token_urlsafe(32)
            link = claim_link(node.settings.base_url, token)
            # Build the message before storing anything: a malformed name or address refuses the whole batch.
            messages.append(invitation_message(node, member, link, expires_at))
            db.add(Invitation(member_id=member_id, token_hash=token_hash(token), created_at=now,
                              expires_at=expires_at))
            record(db, node.clock, actor, "member.invited", target=member.public_id,
                   expires_at=expires_at.isoformat(), via=via)
            issued.append((member_id, link))
    return _deliver_all(node, issued, messages)


def _load_members(db: Session, ids: list[int]) -> dict[int, Member]:
    found: dict[int, Member] = {}
    for chunk in _chunks(ids):
        for member in db.exec(select(Member).where(col(Member.id).in_(chunk))):
            assert member.id is not None
            found[member.id] = member
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownMembers(missing)
    return found


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _deliver_all(
    node: NodeContext, issued: list[tuple[int, str]], messages: list[EmailMessage]
) -> list[tuple[int, str]]:
    delivered: list[tuple[int, str]] = []
    failed: list[int] = []
    reason = ""
    for (member_id, link), message in zip(issued, messages, strict=True):
        try:
            mailer.deliver(node.settings, message)
        except mailer.DeliveryError as exc:
            failed.append(member_id)
            reason = str(exc)
        else:
            delivered.append((member_id, link))
    if failed:
        raise InvitationDeliveryError(delivered, failed, reason)
    return delivered


def invitation_message(node: NodeContext, member: Member, link: str, expires_at: datetime) -> EmailMessage:
    """The invitation e-mail: the node's languages first, then the others (French and English text)."""
    settings = node.settings
    order = list(settings.languages) + [lang for lang in SUPPORTED_LANGUAGES if lang not in settings.languages]
    values = {
        "given_name": member.given_name, "node": settings.display_name, "link": link,
        "expires": expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    }
    subject = " / ".join(i18n.translate(lang, "mail.invitation.subject", **values) for lang in order)
    body = "\n\n----------------------------------------\n\n".join(
        i18n.translate(lang, "mail.invitation.body", **values) for lang in order
    )
    name = f"{member.given_name} {member.family_name}".strip()
    return mailer.new_message(settings, node.clock, name, member.email, subject, body + "\n")


def invitation_state(invitation: Invitation | None, now: datetime) -> InvitationState:
    if invitation is None:
        return "unknown"
    if invitation.used_at is not None:
        return "used"
    if aware(invitation.expires_at) <= now:
        return "expired"
    return "valid"


def find_invitation(node: NodeContext, token: str) -> tuple[Invitation | None, Member | None]:
    """The invitation of a raw ``token`` and its member (``None`` for a malformed or unknown token)."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None, None
    with Session(node.engine, expire_on_commit=False) as db:
        invitation = db.exec(select(Invitation).where(Invitation.token_hash == token_hash(token))).first()
        member = db.get(Member, invitation.member_id) if invitation else None
    return invitation, member


def claim(node: NodeContext, token: str, password: str, ip: str | None = None) -> Member:
    """Use the invitation of ``token``: store the password, set ``claimed_at``, end the member's sessions.

    The caller checks the password rules first. Raises :class:`InvitationUnusable` and stores nothing when the
    link is unknown, used or expired.
    """
    invitation, _ = find_invitation(node, token)
    state = invitation_state(invitation, node.clock())
    if invitation is None or state != "valid":
        raise InvitationUnusable(state)
    password_hash = hash_password(password)  # slow on purpose: done before the transaction opens
    now = node.clock()
    with transaction(node.engine) as db:
        taken = db.exec(
            update(Invitation)
            .where(col(Invitation.id) == invitation.id, col(Invitation.used_at).is_(None),
                   col(Invitation.expires_at) > now)
            .values(used_at=now)
        )
        if taken.rowcount != 1:
            raise InvitationUnusable(invitation_state(db.get(Invitation, invitation.id), now))
        member = db.get(Member, invitation.member_id)
        assert member is not None
        member.password_hash = password_hash
        member.claimed_at = member.claimed_at or now
        member.updated_at = now
        db.add(member)
        db.exec(
            update(Invitation)
            .where(col(Invitation.member_id) == member.id, col(Invitation.used_at).is_(None))
            .values(expires_at=now)
        )
        db.exec(delete(WebSession).where(col(WebSession.member_id) == member.id))
        record(db, node.clock, member.public_id, "member.claimed", target=member.public_id, ip=ip)
    return member
