"""``did:web`` identifiers and DID documents for organisations.

Method spec: https://w3c-ccg.github.io/did-method-web/ . A port is percent-encoded (``localhost%3A8401``); a
path becomes ``:``-separated segments. IP literals are not allowed by the method.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, urlsplit

DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
JWS_2020_V1 = "https://w3id.org/security/suites/jws-2020/v1"


class DidWebError(ValueError):
    """A URL or DID that cannot be a ``did:web`` identifier."""


def did_from_base_url(base_url: str) -> str:
    """The ``did:web`` of a node from its public base URL (scheme dropped, port percent-encoded)."""
    parts = urlsplit(base_url)
    host = parts.hostname
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise DidWebError(f"{base_url!r} is not a plain origin URL")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise DidWebError("did:web forbids IP addresses; use a host name such as 'localhost'")
    authority = host.lower() + (quote(f":{parts.port}", safe="") if parts.port else "")
    segments = [s for s in parts.path.split("/") if s]
    return ":".join(["did:web", authority, *segments])


def did_document(did: str, ed25519_keys: list[tuple[str, str]]) -> dict[str, Any]:
    """A DID document listing Ed25519 Multikeys, newest first; every key may assert credentials.

    ``ed25519_keys`` is a list of ``(key_id, publicKeyMultibase)``. Retired keys stay listed so that
    credentials signed before a rotation still verify.
    """
    methods = [
        {
            "id": f"{did}#{key_id}",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": multikey,
        }
        for key_id, multikey in ed25519_keys
    ]
    refs = [m["id"] for m in methods]
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": refs,
        "authentication": refs,
    }
