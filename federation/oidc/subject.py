"""Subject identifiers (OpenID Connect Core 1.0 §8): pairwise by default, public only when a client is set so.

A pairwise ``sub`` is ``base64url(HMAC-SHA256(salt, sector ‖ 0x00 ‖ local id))``: stable for one sector, different
across sectors, and it does not reveal the member's local identifier (§8.1). The salt is derived from the node's
secret by the caller and never leaves the node. The sector is the host of the client's redirect URIs, or of its
``sector_identifier_uri`` when it has several hosts (§8.1: "the host component of the redirect_uri ... or the
sector_identifier_uri").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

SUBJECT_TYPES = ("pairwise", "public")


class SectorError(ValueError):
    """A client whose redirect URIs span several hosts without a ``sector_identifier_uri``."""


def derive_salt(node_secret: bytes) -> bytes:
    """The pairwise salt of a node: an HMAC of a fixed label under the node secret (never the secret itself)."""
    return hmac.new(node_secret, b"passerelle oidc pairwise subject v1", hashlib.sha256).digest()


def sector_identifier(redirect_uris: Sequence[str], sector_identifier_uri: str | None = None) -> str:
    """The sector of a client: the host of ``sector_identifier_uri`` if given, else the single redirect URI host."""
    if sector_identifier_uri:
        host = urlsplit(sector_identifier_uri).hostname
        if not host:
            raise SectorError("sector_identifier_uri has no host")
        return host
    hosts = {urlsplit(uri).hostname or "" for uri in redirect_uris}
    if len(hosts) != 1 or "" in hosts:
        raise SectorError("redirect URIs on several hosts need a sector_identifier_uri")
    return hosts.pop()


def pairwise_subject(salt: bytes, sector: str, local_id: str) -> str:
    """The pairwise ``sub`` of ``local_id`` for ``sector``."""
    digest = hmac.new(salt, sector.encode() + b"\x00" + local_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def subject_for(subject_type: str, salt: bytes, sector: str, local_id: str) -> str:
    """The ``sub`` a client sees: pairwise unless the client was registered with ``public`` subjects."""
    if subject_type == "public":
        return local_id
    return pairwise_subject(salt, sector, local_id)
