"""A member's credentials, for the member pages and for other parts of the node (the OpenID Connect
``affiliations`` claim).

:func:`member_credentials` returns the signed documents a member may present: their live affiliation credentials
(``active``; a suspended or revoked credential is not handed out). :func:`ensure_member_credentials` first issues
the missing ones (one per affiliation), so a caller that needs them at sign-in time always gets one per affiliation.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from nodes.context import NodeContext
from nodes.issuance import OPEN_BADGE, issue_affiliations, pending_affiliations
from nodes.storage.credential_tables import IssuedCredential


def member_credentials(node: NodeContext, member_id: int, *, include_open_badges: bool = False) -> list[dict[str, Any]]:
    """The member's active credentials as signed JSON documents, newest first."""
    return [dict(row.document) for row in member_rows(node, member_id, states=("active",))
            if include_open_badges or row.credential_type != OPEN_BADGE]


def ensure_member_credentials(node: NodeContext, member_id: int, *, actor: str = "system") -> list[dict[str, Any]]:
    """Issue a credential for each of the member's affiliations that has none alive, then return them all."""
    with Session(node.engine) as db:
        missing = pending_affiliations(db, open_badge=False, member_id=member_id)
    if missing:
        issue_affiliations(node, missing, actor=actor)
    return member_credentials(node, member_id)


def member_rows(node: NodeContext, member_id: int,
                states: tuple[str, ...] = ("active", "suspended", "revoked")) -> list[IssuedCredential]:
    """The member's issued credentials (rows, with state and reason), newest first."""
    with Session(node.engine) as db:
        return list(db.exec(
            select(IssuedCredential)
            .where(IssuedCredential.member_id == member_id, col(IssuedCredential.state).in_(states))
            .order_by(col(IssuedCredential.created_at).desc(), col(IssuedCredential.id))
        ))
