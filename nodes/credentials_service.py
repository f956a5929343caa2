"""A member's credentials, for the member pages and for other parts of the node (the OpenID Connect
``affiliations`` claim).

:func:`live_documents` returns the signed documents a member may present: their live affiliation credentials
(``active``; a suspended or revoked credential is not handed out, nor the Open Badge form), in the caller's
session, as UserInfo reads them on every call. :func:`ensure_member_credentials` first issues
the missing ones (one per affiliation), so a caller that needs them at sign-in time always gets one per affiliation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from nodes.context import NodeContext
from nodes.issuance import OPEN_BADGE, issue_affiliations, pending_affiliations
from nodes.storage.credential_tables import IssuedCredential

_ISSUED = IssuedCredential.__table__  # type: ignore[attr-defined]
LIVE_DOCUMENTS = (
    select(_ISSUED.c.document)
    .where(_ISSUED.c.member_id == bindparam("member_id"), _ISSUED.c.state == "active",
           _ISSUED.c.credential_type != OPEN_BADGE)
    .order_by(_ISSUED.c.created_at.desc(), _ISSUED.c.id)
)


def live_documents(db: Session, member_id: int) -> list[dict[str, Any]]:
    """The member's live affiliation credentials as signed JSON documents, newest first (one Core statement)."""
    return [dict(document) for (document,) in db.connection().execute(LIVE_DOCUMENTS, {"member_id": member_id})]


def member_credentials(node: NodeContext, member_id: int) -> list[dict[str, Any]]:
    with Session(node.engine) as db:
        return live_documents(db, member_id)


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
