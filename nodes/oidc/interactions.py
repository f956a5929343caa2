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

from sqlalchemy import bindparam, delete, insert, select, update

from nodes.clock import aware
from nodes.context import NodeContext
from nodes.storage.direct import DirectBatch, DirectStatement
from nodes.storage.oidc_tables import OidcInteraction

TTL = timedelta(minutes=10)
MAX_ID = 100

# Each step of a flow touches its interaction once, on the direct pool (nodes/storage/direct.py): a flow is a
# handful of these small statements, and through ORM sessions they had cost more than the pages around them.
_TABLE = OidcInteraction.__table__  # type: ignore[attr-defined]
# Parking a request purges the expired ones, in the same statement on PostgreSQL.
_PARK = DirectBatch(
    delete(_TABLE).where(_TABLE.c.expires_at < bindparam("created_at")),
    insert(_TABLE).values(id_hash=bindparam("id_hash"), params=bindparam("params"), member_id=bindparam("member_id"),
                          created_at=bindparam("created_at"), expires_at=bindparam("expires_at")),
)
_READ = DirectStatement(select(_TABLE).where(_TABLE.c.id_hash == bindparam("id_hash")))
_ATTACH = DirectStatement(update(_TABLE).where(_TABLE.c.id_hash == bindparam("id_hash"))
                          .values(member_id=bindparam("member_id")))
_FINISH = DirectStatement(delete(_TABLE).where(_TABLE.c.id_hash == bindparam("id_hash")))


@dataclass(frozen=True)
class Interaction:
    id: str
    params: list[tuple[str, str]]
    member_id: int | None
    created_at: datetime


def _hash(interaction_id: str) -> str:
    return hashlib.sha256(interaction_id.encode()).hexdigest()


def create(node: NodeContext, params: list[tuple[str, str]], member_id: int | None = None) -> Interaction:
    """Park a request (expired ones are purged in the same transaction); bound to ``member_id`` if given."""
    now = node.clock()
    interaction_id = secrets.token_urlsafe(24)
    node.direct_reads.write(_PARK, {"id_hash": _hash(interaction_id), "params": [list(p) for p in params],
                                    "member_id": member_id, "created_at": now, "expires_at": now + TTL})
    return Interaction(interaction_id, params, member_id, now)


def load(node: NodeContext, interaction_id: str | None) -> Interaction | None:
    """The live interaction with this id, or ``None`` (unknown, malformed or expired)."""
    if not interaction_id or len(interaction_id) > MAX_ID:
        return None
    with node.direct_reads.connection() as connection:
        row = connection.first(_READ, {"id_hash": _hash(interaction_id)})
    if row is None or aware(row.expires_at) <= node.clock():
        return None
    params = [(str(k), str(v)) for k, v in row.params]
    return Interaction(interaction_id, params, row.member_id, aware(row.created_at))


def attach_member(node: NodeContext, interaction: Interaction, member_id: int) -> Interaction:
    """Bind the interaction to the member who was shown the consent page: only they may answer it."""
    if interaction.member_id != member_id:
        node.direct_reads.write(_ATTACH, {"id_hash": _hash(interaction.id), "member_id": member_id})
    return Interaction(interaction.id, interaction.params, member_id, interaction.created_at)


def finish(node: NodeContext, interaction: Interaction) -> bool:
    """Delete the interaction; ``False`` when another request finished it first (a double submit)."""
    return node.direct_reads.write(_FINISH, {"id_hash": _hash(interaction.id)}) == 1
