"""Verification methods: what a proof verifier needs to know about the key named in ``verificationMethod``.

A verifier never fetches anything itself: the caller passes a :data:`KeyResolver`, a function from a
verification method id to a :class:`VerificationMethod` (for ``did:key`` see :mod:`credentials.did_key`; for
``did:web`` the node resolves the DID document and uses :func:`from_did_document`). It raises on failure.

Controlled Identifiers 1.0 (https://www.w3.org/TR/cid-1.0/): a verification method belongs to a controller, and
the controller document lists, per verification relationship (``assertionMethod``, ``authentication``...), which
methods may be used for that purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from credentials.errors import MalformedValueError
from credentials.keys import KeyError_, VerificationKey, public_key_from_multikey

RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)


class VerificationMethod(NamedTuple):
    """A resolved verification method: its controller, its public key and the relationships that list it."""

    controller: str
    public_key: VerificationKey
    relationships: frozenset[str]


KeyResolver = Callable[[str], VerificationMethod]
"""Resolve a verification method id (a DID URL) to a :class:`VerificationMethod`; raise if it cannot."""


def from_did_document(document: Mapping[str, Any], method_id: str) -> VerificationMethod:
    """The ``Multikey`` method ``method_id`` of a DID document, with the relationships that reference it.

    The method must be defined once in the document (under ``verificationMethod`` or embedded in a
    relationship), be controlled by the document's subject (``id``) and carry an Ed25519 ``publicKeyMultibase``.
    Relative references (``#key-1``) are read against the document ``id``.
    """
    subject = document.get("id")
    if not isinstance(subject, str) or method_id.split("#", 1)[0] != subject:
        raise MalformedValueError("verification method does not belong to this DID document")
    method: Mapping[str, Any] | None = None
    relationships = set()
    for name in ("verificationMethod", *RELATIONSHIPS):
        for entry in _entries(document, name):
            reference = entry.get("id") if isinstance(entry, Mapping) else entry
            if not isinstance(reference, str) or _absolute(reference, subject) != method_id:
                continue
            if isinstance(entry, Mapping):
                if method is not None and method != entry:
                    raise MalformedValueError(f"verification method {method_id!r} is defined twice")
                method = entry
            if name != "verificationMethod":
                relationships.add(name)
    if method is None:
        raise MalformedValueError(f"verification method {method_id!r} is not in the DID document")
    if method.get("type") != "Multikey" or method.get("controller") != subject:
        raise MalformedValueError("verification method must be a Multikey controlled by the DID subject")
    try:
        key = public_key_from_multikey(method.get("publicKeyMultibase", ""))
    except KeyError_ as exc:
        raise MalformedValueError(str(exc)) from exc
    return VerificationMethod(subject, key, frozenset(relationships))


def _entries(document: Mapping[str, Any], name: str) -> list[Any]:
    entries = document.get(name, [])
    if not isinstance(entries, list):
        raise MalformedValueError(f"DID document member {name!r} must be a list")
    return entries


def _absolute(reference: str, subject: str) -> str:
    return subject + reference if reference.startswith("#") else reference
