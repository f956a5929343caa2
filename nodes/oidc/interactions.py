"""Authorization requests parked while the member signs in or decides (panva's "interactions").

The parameters of the request are stored server-side under a random id, so a POSTed authorization request
survives the trip through the sign-in page, and ``prompt=login`` / ``max_age`` can be judged against the time
the interaction began (a sign-in after it is fresh enough). The id is in the browser's URL; the table keeps only
its SHA-256. An interaction lives ten minutes and is deleted once the member has decided.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete

from nodes.clock import aware
from nodes.context import NodeContext
from nodes.storage.db import transaction
from nodes.storage.oidc_tables import OidcInteraction

TTL = timedelta(minutes=10)
MAX_ID = 100


@dataclass(frozen=True)
class Interaction:
    id: str
    params: list[tuple[str, str]]
    member_id: int | None
    created_at: datetime


def _hash(interaction_id: str) -> str:
    return hashlib.sha256(interaction_id.encode()).hexdigest()


def create(node: NodeContext, params: list[tuple[str, str]]) -> Interaction:
    now = node.clock()
    interaction_id = secrets.token_urlsafe(24)
    with transaction(node.engine) as db:
        db.exec(delete(OidcInteraction).where(col(OidcInteraction.expires_at) < now))  # type: ignore[call-overload]
        db.add(OidcInteraction(id_hash=_hash(interaction_id), params=[list(p) for p in params], created_at=now,
                               expires_at=now + TTL))
    return Interaction(interaction_id, params, None, now)


def load(node: NodeContext, interaction_id: str | None) -> Interaction | None:
    """The live interaction with this id, or ``None`` (unknown, malformed or expired)."""
    if not interaction_id or len(interaction_id) > MAX_ID:
        return None
    with Session(node.engine) as db:
        row = db.get(OidcInteraction, _hash(interaction_id))
    if row is None or aware(row.expires_at) <= node.clock():
        return None
    params = [(str(k), str(v)) for k, v in row.params]
    return Interaction(interaction_id, params, row.member_id, aware(row.created_at))


def attach_member(node: NodeContext, interaction: Interaction, member_id: int) -> Interaction:
    """Bind the interaction to the member who was shown the consent page: only they may answer it."""
    with transaction(node.engine) as db:
        row = db.get(OidcInteraction, _hash(interaction.id))
        if row is not None:
            row.member_id = member_id
            db.add(row)
    return Interaction(interaction.id, interaction.params, member_id, interaction.created_at)


def finish(node: NodeContext, interaction: Interaction) -> bool:
    """Delete the interaction; ``False`` when another request finished it first (a double submit)."""
    with transaction(node.engine) as db:
        result = db.exec(  # type: ignore[call-overload]
            delete(OidcInteraction).where(col(OidcInteraction.id_hash) == _hash(interaction.id))
        )
        return bool(result.rowcount == 1)
