"""Bootstrapping the organisation's administrators from the command line.

The first administrator cannot be invited by another one: ``passerelle admin create`` makes (or promotes) a member
with a password, and records it in the audit log. A member who already has a password keeps it unless the operator
asks for a new one, so promoting a colleague never locks them out of their own account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from nodes import i18n
from nodes.audit import record
from nodes.context import NodeContext
from nodes.members import email_key, hash_password, password_problem
from nodes.roster.apply import new_public_id
from nodes.storage.db import transaction
from nodes.storage.models import Member

NAME_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AdminProblem(ValueError):
    """The administrator cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class AdminResult:
    public_id: str
    action: str  # "admin.create", "admin.promote" or "none" (already an administrator, nothing changed)
    password_set: bool


def needs_password(node: NodeContext, email: str, reset_password: bool = False) -> bool:
    """Whether making ``email`` an administrator needs a password: a new member, or one who never chose one."""
    key = email_key(email)
    with Session(node.engine) as db:
        member = db.exec(select(Member).where(Member.email_key == key)).first()
    return reset_password or member is None or member.password_hash is None


def _check_name(label: str, value: str | None) -> str:
    value = (value or "").strip()
    if not value:
        raise AdminProblem(f"{label} is required to create a new member")
    if len(value) > NAME_MAX or _CONTROL.search(value):
        raise AdminProblem(f"{label} must be at most {NAME_MAX} characters, without control characters")
    return value


def make_admin(
    node: NodeContext, email: str, given_name: str | None = None, family_name: str | None = None,
    password: str | None = None, actor: str = "cli",
) -> AdminResult:
    """Create the member ``email`` as an administrator, or promote the existing member; set ``password`` if given.

    Raises :class:`nodes.members.InvalidEmail` or :class:`AdminProblem` before anything is stored.
    """
    key = email_key(email)
    if password is not None and (problem := password_problem(password)):
        raise AdminProblem(i18n.translate("en", problem))
    password_hash = hash_password(password) if password is not None else None
    now = node.clock()
    with transaction(node.engine) as db:
        member = db.exec(select(Member).where(Member.email_key == key)).first()
        if member is None:
            if password_hash is None:
                raise AdminProblem("a new administrator needs a password")
            member = Member(
                public_id=new_public_id(), email=email.strip(), email_key=key,
                given_name=_check_name("given name", given_name), family_name=_check_name("family name", family_name),
                password_hash=password_hash, is_admin=True, created_at=now, updated_at=now, claimed_at=now,
            )
            action = "admin.create"
        elif member.is_admin and password_hash is None:
            return AdminResult(member.public_id, "none", False)
        else:
            action = "admin.promote" if not member.is_admin else "admin.password"
            member.is_admin = True
            if password_hash is not None:
                member.password_hash = password_hash
                member.claimed_at = member.claimed_at or now
            member.updated_at = now
        db.add(member)
        db.flush()
        record(db, node.clock, actor, action, target=member.public_id, password_set=password_hash is not None)
        return AdminResult(member.public_id, action, password_hash is not None)
