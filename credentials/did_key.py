"""``did:key`` for Ed25519 holder keys: create, parse and resolve, with nothing fetched.

Method spec: https://w3c-ccg.github.io/did-key-spec/ . A ``did:key`` is ``did:key:`` followed by the Multikey of
the public key: ``z`` (base58btc) over the multicodec ``0xed01`` and the 32 key bytes, so it always starts with
``did:key:z6Mk``. Its only verification method is ``did:key:<key>#<key>``.

This module accepts nothing else (SECURITY D6): another multibase, another multicodec (P-256 ``zDn``,
secp256k1 ``zQ3``...), a wrong length, a path or query, or a fragment that is not the key itself is an
:class:`~credentials.errors.InvalidDidError`. A key that does not decode to a valid Ed25519 point is refused too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from credentials.errors import InvalidDidError
from credentials.keys import KeyError_, SigningKey, public_key_from_multikey
from credentials.verification_methods import RELATIONSHIPS, VerificationMethod

DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
PREFIX = "did:key:"
# Every 34-byte value starting 0xed 0x01 encodes to "z6Mk" + 44 base58 characters; decoding checks the rest.
_SHAPE = re.compile(r"z6Mk[1-9A-HJ-NP-Za-km-z]{44}")
# keyAgreement is left out: an Ed25519 key does not agree keys (the X25519 derivation is optional and unused).
_RELATIONSHIPS = frozenset(name for name in RELATIONSHIPS if name != "keyAgreement")


def did_key_from_multikey(multikey: str) -> str:
    """The ``did:key`` of an Ed25519 ``publicKeyMultibase``."""
    _check_multikey(multikey)
    return PREFIX + multikey


def did_key_for(key: SigningKey) -> str:
    """The ``did:key`` of a holder's Ed25519 signing key."""
    if key.algorithm != "Ed25519":
        raise InvalidDidError("did:key is created here for Ed25519 keys only")
    return did_key_from_multikey(key.public_multikey())


def verification_method_id(did: str) -> str:
    """The id of the single verification method of a ``did:key``: ``did:key:<key>#<key>``."""
    multikey = _multikey_of(did)
    return f"{did}#{multikey}"


def resolve(did: str) -> dict[str, Any]:
    """The DID document of an Ed25519 ``did:key``, built locally from the identifier."""
    multikey = _multikey_of(did)
    method_id = f"{did}#{multikey}"
    document: dict[str, Any] = {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": [
            {"id": method_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
        ],
    }
    for name in sorted(_RELATIONSHIPS):
        document[name] = [method_id]
    return document


def resolve_verification_method(method_id: str) -> VerificationMethod:
    """A :data:`~credentials.verification_methods.KeyResolver` for ``did:key`` verification method ids.

    The fragment must be the key itself; a bare DID (no fragment) is refused, since a proof names a method.
    A ``did:key`` resolves to the same key forever, so results are remembered (errors are not); the result is
    immutable (a named tuple of strings, a frozen set and a public key).
    """
    if not isinstance(method_id, str):
        raise InvalidDidError("not a did:key")
    return _resolve_verification_method(method_id)


@lru_cache(maxsize=1024)
def _resolve_verification_method(method_id: str) -> VerificationMethod:
    did, hash_, fragment = method_id.partition("#")
    multikey = _multikey_of(did)
    if not hash_ or fragment != multikey:
        raise InvalidDidError("a did:key verification method must be did:key:<key>#<key>")
    return VerificationMethod(did, public_key_from_multikey(multikey), _RELATIONSHIPS)


def _multikey_of(did: str) -> str:
    if not isinstance(did, str) or not did.startswith(PREFIX):
        raise InvalidDidError("not a did:key")
    multikey = did[len(PREFIX) :]
    _check_multikey(multikey)
    return multikey


def _check_multikey(multikey: str) -> None:
    if not isinstance(multikey, str) or not multikey.startswith("z"):
        raise InvalidDidError("did:key must use base58btc multibase ('z')")
    if not _SHAPE.fullmatch(multikey):
        raise InvalidDidError("did:key must hold an Ed25519 key (multicodec 0xed01, 32 bytes)")
    try:
        public_key_from_multikey(multikey)
    except (KeyError_, ValueError) as exc:
        raise InvalidDidError(f"did:key does not hold a valid Ed25519 key: {exc}") from exc
