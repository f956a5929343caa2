"""Consents remembered per member and platform, the grant log behind "Connected platforms", consent receipts.

Giving consent, signing in to a platform and disconnecting it are each one transaction with their audit event.
Disconnecting revokes the consent and every token of the member at that platform at once: the next userinfo,
refresh or introspection call of the platform fails. Connecting it again starts a new *connection*: codes and tokens
of the earlier one stay worthless, even one written by a request that raced the disconnection (ADR 0100).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, null
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from federation.oidc.consent import chosen, consent_receipt
from federation.oidc.models import Client, Consent
from federation.oidc.provider import Provider
from federation.oidc.scopes import OFFLINE_ACCESS, RequestedItem
from nodes import audit
from nodes.audit import record
from nodes.clock import aware
from nodes.context import NodeContext
from nodes.oidc.store import SqlProviderStore
from nodes.storage.db import transaction
from nodes.storage.direct import DirectBatch
from nodes.storage.models import Member
from nodes.storage.oidc_tables import OidcClient, OidcConsent, OidcGrant

# A flow's consent and sign-in records go through the direct pool (nodes/storage/direct.py), like the rest of it.
_CONSENTS = OidcConsent.__table__  # type: ignore[attr-defined]
_GRANTS = OidcGrant.__table__  # type: ignore[attr-defined]
_CHOICE = ("decided", "granted", "granted_at")
_GRANT_FIELDS = ("receipt_id", "member_id", "client_id", "kind", "claims", "at", "receipt")
_INSERT_GRANT = insert(_GRANTS).values({name: bindparam(name) for name in _GRANT_FIELDS})


def _remember_choice(dialect_insert: Any) -> Any:
    """The member's choice for the platform: a new consent, or the one they have (live, or revoked when they
    disconnected the platform) updated and live again; the table holds one row per member and platform.

    A revoked consent made live again takes the new ``connection`` (parameter), a live one keeps its own. The
    database decides, on the row as it is when the upsert locks it, not on what the request read before: a
    disconnection that commits in between still ends the codes and tokens of the connection it revoked."""
    choice = dialect_insert(_CONSENTS).values(member_id=bindparam("member_id"), client_id=bindparam("client_id"),
                                              connection=bindparam("connection"),
                                              **{name: bindparam(name) for name in _CHOICE})
    connection = case((_CONSENTS.c.revoked_at.is_(None), _CONSENTS.c.connection), else_=choice.excluded.connection)
    return choice.on_conflict_do_update(
        index_elements=["member_id", "client_id"],
        set_={**{name: getattr(choice.excluded, name) for name in _CHOICE}, "revoked_at": null(),
              "connection": connection})


# The choice, its receipt and the audit event: one batch (one statement on PostgreSQL). The grant's and the event's
# ``at`` are the same instant. The upsert is each dialect's own statement.
_GIVE_CONSENT = {
    "postgresql": DirectBatch(_remember_choice(postgresql.insert), _INSERT_GRANT, audit.INSERT),
    "sqlite": DirectBatch(_remember_choice(sqlite.insert), _INSERT_GRANT, audit.INSERT),
}


def give_consent(
    node: NodeContext, provider: Provider, member: Member, client: Client, items: list[RequestedItem],
    ticked: list[str], ip: str | None, earlier: Consent | None,
) -> Consent:
    """Remember the member's choice, merged with ``earlier`` (their live consent for the platform, as read with the
    client) for the claims this request did not ask; returns the consent as it now stands, which the code is
    issued under. Without ``earlier`` this is a new connection (a first one, or one after a disconnection)."""
    assert member.id is not None
    now = node.clock()
    asked = {item.name for item in items}
    granted_now = chosen(items, ticked)
    receipt_id = str(uuid.uuid4())
    # The connection a revoked (or new) consent takes: always a fresh one, since the consent may have been revoked
    # since ``earlier`` was read. The code is issued under ``earlier``'s when it was live: if a disconnection came
    # in between, that code is refused, as a disconnection should have it.
    fresh = secrets.randbelow(2**62) + 1
    keep_decided: set[str] = set(earlier.decided) if earlier is not None else set()
    keep_granted: set[str] = set(earlier.granted) - asked if earlier is not None else set()
    granted = sorted(keep_granted | granted_now)
    receipt = consent_receipt(
        receipt_id=receipt_id, issued_at=now, controller=node.settings.display_name,
        controller_url=node.settings.base_url, platform=client.name, platform_policy=client.policy_uri,
        subject=provider.subject(client, member.public_id), granted=granted, refused=asked - granted_now,
    )
    event = audit.values(lambda: now, member.public_id, "oidc.consent.granted", target=f"client:{client.client_id}",
                         ip=ip, granted=sorted(granted_now), refused=sorted(asked - granted_now), receipt=receipt_id)
    params = {**event, "member_id": member.id, "client_id": client.client_id, "decided": sorted(keep_decided | asked),
              "granted": granted, "granted_at": now, "receipt_id": receipt_id, "kind": "consent", "claims": granted,
              "receipt": receipt, "connection": fresh}
    store = SqlProviderStore(node)
    if earlier is not None and OFFLINE_ACCESS not in earlier.granted and OFFLINE_ACCESS in granted:
        # Refresh tokens still alive from before a withdrawal of "access while you are away" (one that raced it,
        # or a revocation that failed after the choice was saved) must not come back to life with this grant.
        store.revoke_refresh_tokens(member.id, client.client_id, now, "offline_access_granted_again")
    node.direct_reads.write(_GIVE_CONSENT[node.engine.dialect.name], params)
    connection = earlier.connection if earlier is not None else _connection_now(store, member.id, client, fresh)
    if earlier is not None and OFFLINE_ACCESS in earlier.granted and OFFLINE_ACCESS not in granted:
        # "Access while you are away" unticked: the refresh tokens it allowed stop now (introspection included), not
        # at their next use; the refresh grant also refuses them on the consent it reads with the token.
        store.revoke_refresh_tokens(member.id, client.client_id, now, "offline_access_withdrawn")
    return Consent(member.id, client.client_id, frozenset(keep_decided | asked), frozenset(granted), now, connection)


def _connection_now(store: SqlProviderStore, member_id: int, client: Client, fresh: int) -> int:
    """The connection a new consent holds once saved: ``fresh``, unless another consent form of the member for the
    platform made it live first, under its own, which the upsert kept (two tabs answering at once)."""
    live = store.get_consent(member_id, client.client_id)
    return live.connection if live is not None else fresh


def record_denial(node: NodeContext, member: Member, client: Client, ip: str | None) -> None:
    with transaction(node.engine) as db:
        record(db, node.clock, member.public_id, "oidc.consent.denied", target=f"client:{client.client_id}", ip=ip)


def disconnect(node: NodeContext, member: Member, client_id: str, ip: str | None) -> bool:
    """Revoke the member's consent for the platform and all its tokens, with the audit event, in one transaction;
    ``False`` if nothing was connected."""
    assert member.id is not None
    return SqlProviderStore(node).disconnect(
        member.id, client_id, node.clock(),
        lambda db: record(db, node.clock, member.public_id, "oidc.platform.revoked", target=f"client:{client_id}",
                          ip=ip),
    )


@dataclass
class ConnectedPlatform:
    client_id: str
    name: str
    logo_uri: str | None
    policy_uri: str | None
    granted: list[str]
    connected_since: datetime | None
    active: bool
    history: list[OidcGrant]


def connected_platforms(node: NodeContext, member: Member) -> list[ConnectedPlatform]:
    """Every platform the member ever consented to, live ones first, with what it received and when."""
    with Session(node.engine) as db:
        consents = list(db.exec(select(OidcConsent).where(OidcConsent.member_id == member.id)))
        grants = list(db.exec(
            select(OidcGrant).where(OidcGrant.member_id == member.id).order_by(col(OidcGrant.at).desc()).limit(500)
        ))
        clients = {c.client_id: c for c in db.exec(
            select(OidcClient).where(col(OidcClient.client_id).in_([c.client_id for c in consents]))
        )}
    out = []
    for consent in consents:
        client = clients.get(consent.client_id)
        if client is None:
            continue
        out.append(ConnectedPlatform(
            client_id=client.client_id, name=client.name, logo_uri=client.logo_uri, policy_uri=client.policy_uri,
            granted=list(consent.granted), connected_since=aware(consent.granted_at),
            active=consent.revoked_at is None,
            history=[g for g in grants if g.client_id == client.client_id][:20],
        ))
    out.sort(key=lambda p: (not p.active, p.name.casefold()))
    return out


def receipt_of(node: NodeContext, member: Member, receipt_id: str) -> dict[str, Any] | None:
    """The member's own consent receipt, or ``None`` (unknown, or someone else's)."""
    with Session(node.engine) as db:
        row = db.exec(select(OidcGrant).where(
            OidcGrant.receipt_id == receipt_id, OidcGrant.member_id == member.id, OidcGrant.kind == "consent"
        )).first()
    return dict(row.receipt) if row is not None else None
