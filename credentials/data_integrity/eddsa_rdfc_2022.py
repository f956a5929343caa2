"""The ``eddsa-rdfc-2022`` cryptosuite: RDFC-1.0 + SHA-256 + Ed25519 (https://www.w3.org/TR/vc-di-eddsa/).

Transformation (§3.3.2): canonicalize the unsecured document and the proof configuration with RDFC-1.0.
Hashing (§3.3.3): SHA-256 of each; the hash data is ``sha256(proof config) ‖ sha256(document)`` (proof first).
Proof serialization (§3.3.5): Ed25519 over the hash data, multibase base58btc (``z``) encoded.
Proof verification (§3.3.6): the same hash data, and the signature must be exactly 64 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from credentials.errors import ProofGenerationError, ProofVerificationError
from credentials.jsonld_canon import canonize, canonize_proof_config
from credentials.jsonld_loader import JsonLdLoader
from credentials.keys import SignatureError, SigningKey, VerificationKey
from credentials.multibase import MultibaseError, decode_z, encode_z
from credentials.rdfc import WorkBudget

NAME = "eddsa-rdfc-2022"
REQUIRED_ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class HashData:
    """The two canonical forms and the bytes that are signed; kept together so tests can compare each."""

    canonical_document: str
    canonical_proof_config: str

    @property
    def document_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_document.encode("utf-8")).digest()

    @property
    def proof_config_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_proof_config.encode("utf-8")).digest()

    @property
    def combined(self) -> bytes:
        """What Ed25519 signs: the proof configuration hash, then the document hash."""
        return self.proof_config_hash + self.document_hash


def hash_data(
    unsecured: Mapping[str, Any],
    proof_config: Mapping[str, Any],
    loader: JsonLdLoader,
    *,
    budget: WorkBudget | None = None,
) -> HashData:
    """Transform and hash (§3.3.2-3.3.4). ``proof_config`` carries the document's ``@context``.

    The proof configuration's canonical form is remembered per loader (see
    :func:`credentials.jsonld_canon.canonize_proof_config`): a roster is signed with one configuration.
    """
    return HashData(
        canonize(unsecured, loader, budget=budget), canonize_proof_config(proof_config, loader, budget=budget)
    )


def proof_value(data: HashData, key: SigningKey) -> str:
    """Sign the hash data and return ``proofValue`` (``z`` + base58btc of the 64-byte signature)."""
    if key.algorithm != REQUIRED_ALGORITHM:
        raise ProofGenerationError(f"{NAME} signs with Ed25519 keys only")
    return encode_z(key.sign(data.combined))


def decode_proof_value(value: Any) -> bytes:
    """The signature bytes of a ``proofValue``: base58btc multibase of exactly 64 bytes."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofVerificationError("proofValue must be a base58btc multibase string (starting with 'z')")
    try:
        signature = decode_z(value)
    except MultibaseError as exc:
        raise ProofVerificationError("proofValue is not valid base58btc") from exc
    if len(signature) != 64:
        raise ProofVerificationError("proofValue must encode a 64-byte Ed25519 signature")
    return signature


def verify_proof_value(data: HashData, value: Any, key: VerificationKey) -> None:
    """Raise :class:`ProofVerificationError` unless ``value`` is a valid signature of the hash data."""
    verify_signature(data, decode_proof_value(value), key)


def verify_signature(data: HashData, signature: bytes, key: VerificationKey) -> None:
    """:func:`verify_proof_value` for a ``proofValue`` already decoded by :func:`decode_proof_value`."""
    if key.algorithm != REQUIRED_ALGORITHM:
        raise ProofVerificationError(f"{NAME} verifies with Ed25519 keys only")
    try:
        key.verify(signature, data.combined)
    except SignatureError as exc:
        raise ProofVerificationError("signature does not verify") from exc
