"""The signed status list credential of ``/status/{purpose}/{number}``, made from the database at each request.

The document is rebuilt from the stored bitstring and signed with the node's current credentials key, so a
rotated key or a new bit shows at once; its ``validFrom`` is the time of the list's last change and its ``ttl``
the configured caching delay (the route sends ``Cache-Control: max-age`` to match, SECURITY S8). A list whose
version is below the highest this node ever published is refused (:class:`StatusListRollback`, X12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from credentials.data_integrity import create_proof
from credentials.status import decode_bitstring, status_list_credential
from credentials.status.documents import ISSUED_PURPOSES
from nodes import keyring
from nodes.clock import aware
from nodes.context import NodeContext
from nodes.status_high_water import check_high_water, record_published
from nodes.status_lists import StatusListRollback, list_url
from nodes.storage.credential_tables import StatusListBits


@dataclass(frozen=True)
class PublishedList:
    document: dict[str, Any]
    version: int
    ttl_seconds: int


def published_list(node: NodeContext, purpose: str, number: int) -> PublishedList | None:
    """The signed list credential, or ``None`` for a list that does not exist."""
    if purpose not in ISSUED_PURPOSES:
        return None
    with Session(node.engine) as db:
        row = db.exec(select(StatusListBits).where(StatusListBits.list_number == number,
                                                   StatusListBits.purpose == purpose)).first()
    if row is None:
        return None
    name = f"{purpose}/{number}"
    if check_high_water(node, {name: row.version}):
        raise StatusListRollback(f"status list {name} is older than the one already published")
    url = list_url(node, purpose, number)
    unsigned = status_list_credential(
        list_id=url, issuer=node.did, purpose=purpose,
        bitstring=decode_bitstring(row.encoded_list), valid_from=aware(row.updated_at),
        ttl_ms=row.ttl_seconds * 1000,
    )
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    signed = create_proof(unsigned, key=key, verification_method=f"{node.did}#{key.kid}", loader=node.loader,
                          clock=node.clock)
    record_published(node, name, row.version, row.encoded_list)
    return PublishedList(signed, row.version, row.ttl_seconds)


def own_list_number(node: NodeContext, url: str) -> tuple[str, int] | None:
    """``(purpose, number)`` when ``url`` is one of this node's status list URLs, else ``None``."""
    prefix = f"{node.settings.base_url}/status/"
    if not url.startswith(prefix):
        return None
    purpose, _, number = url[len(prefix):].partition("/")
    if purpose not in ISSUED_PURPOSES or not number.isascii() or not number.isdigit() or len(number) > 9:
        return None
    return purpose, int(number)
