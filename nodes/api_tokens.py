"""Bearer tokens for the VC-API (``POST /credentials/issue``), created by ``passerelle api-tokens add``.

A token acts with the rights of the administrator it was created for, and stops working when that member is no
longer an administrator or the token is revoked. Only the SHA-256 of the token is stored (SECURITY B3): the raw
value is shown once, at creation. Tokens start with ``psl_`` so that secret scanners and log redaction find them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from nodes.audit import record
from nodes.context import NodeContext
from nodes.members import email_key
from nodes.storage.credential_tables import ApiToken
from nodes.storage.db import transaction
from nodes.storage.models import Member

PREFIX = "psl_"
NAME_MAX = 200


class TokenProblem(ValueError):
    """The token cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class CreatedToken:
    id: int
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(node: NodeContext, email: str, name: str, actor: str = "cli") -> CreatedToken:
    """A new token for the administrator ``email``; raises :class:`TokenProblem` for anyone else."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise TokenProblem(f"the token name must be 1 to {NAME_MAX} printable characters")
    key = email_key(email)
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction(node.engine) as db:
        member = db.exec(select(Member).where(Member.email_key == key)).first()
        if member is None or not member.is_admin or member.id is None:
            raise TokenProblem(f"{email.strip()} is not an administrator of this node")
        row = ApiToken(token_hash=token_hash(token), name=name, member_id=member.id, created_at=node.clock())
        db.add(row)
        db.flush()
        record(db, node.clock, actor, "api_token.create", target=member.public_id, token_id=row.id, name=name)
        assert row.id is not None
        return CreatedToken(row.id, token)


def authenticate(node: NodeContext, token: str) -> Member | None:
    """The administrator a live token belongs to, or ``None`` (unknown, revoked, or no longer an admin)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with Session(node.engine, expire_on_commit=False) as db:
        row = db.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                             col(ApiToken.revoked_at).is_(None))).first()
        member = db.get(Member, row.member_id) if row is not None else None
    return member if member is not None and member.is_admin else None


def list_tokens(node: NodeContext) -> list[tuple[ApiToken, str]]:
    """Every token with its administrator's e-mail (no secret: only hashes are stored)."""
    with Session(node.engine) as db:
        rows = db.exec(select(ApiToken, Member.email).join(Member, col(Member.id) == ApiToken.member_id)
                       .order_by(col(ApiToken.id))).all()
    return [(row, str(email)) for row, email in rows]


def revoke_token(node: NodeContext, token_id: int, actor: str = "cli") -> None:
    with transaction(node.engine) as db:
        row = db.get(ApiToken, token_id)
        if row is None or row.revoked_at is not None:
            raise TokenProblem(f"no live token with id {token_id}")
        row.revoked_at = node.clock()
        db.add(row)
        record(db, node.clock, actor, "api_token.revoke", token_id=token_id)
