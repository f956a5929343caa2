"""Add and verify a Data Integrity proof (https://www.w3.org/TR/vc-data-integrity/ §4.2 and §4.4).

Everything outside is passed in: the JSON-LD loader, the clock and, to verify, the key resolver. Checks that cost
nothing run first (shape, purpose, dates, challenge, domain), then the key is resolved, and only then is the
document canonicalized, so a malformed proof never costs a canonicalization or a DID lookup.

Only one proof per document is handled here (no proof sets or chains, which Passerelle does not issue): a
document that already has a ``proof`` cannot be signed again, and a ``proof`` list is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from credentials.data_integrity import eddsa_rdfc_2022 as suite
from credentials.data_integrity.datetimes import format_timestamp, parse_timestamp
from credentials.errors import (
    InvalidChallengeError,
    InvalidDomainError,
    MalformedProofError,
    MismatchedProofPurposeError,
    ParsingError,
    ProofGenerationError,
    ProofVerificationError,
)
from credentials.jsonld_loader import JsonLdLoader
from credentials.keys import SigningKey
from credentials.rdfc import WorkBudget
from credentials.verification_methods import KeyResolver, VerificationMethod

PROOF_TYPE = "DataIntegrityProof"
Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware. Injected so that no protocol code reads the system clock."""


@dataclass(frozen=True)
class VerifiedProof:
    """What a verified proof tells the caller: which key, of which controller, for what, since when."""

    verification_method: str
    controller: str
    proof_purpose: str
    created: datetime | None
    proof: Mapping[str, Any]


def create_proof(
    document: Mapping[str, Any],
    *,
    key: SigningKey,
    verification_method: str,
    loader: JsonLdLoader,
    clock: Clock,
    proof_purpose: str = "assertionMethod",
    expires: datetime | None = None,
    challenge: str | None = None,
    domain: str | list[str] | None = None,
    budget: WorkBudget | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with an ``eddsa-rdfc-2022`` proof made with ``key`` at ``clock()``.

    ``challenge`` and ``domain`` bind a presentation proof (``proofPurpose="authentication"``) to one verifier
    request. The document's ``@context`` must define the proof terms (VC 2.0's context does).
    """
    if "proof" in document:
        raise ProofGenerationError("document already has a proof; proof sets are not supported")
    if "@context" not in document:
        raise ProofGenerationError("document has no @context")
    if not verification_method or not proof_purpose:
        raise ProofGenerationError("verificationMethod and proofPurpose are required")
    if key.algorithm != suite.REQUIRED_ALGORITHM:
        raise ProofGenerationError(f"{suite.NAME} signs with Ed25519 keys only")
    options: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": suite.NAME}
    try:
        options["created"] = format_timestamp(clock())
        if expires is not None:
            options["expires"] = format_timestamp(expires)
    except ValueError as exc:
        raise ProofGenerationError(str(exc)) from exc
    options |= {"verificationMethod": verification_method, "proofPurpose": proof_purpose}
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    config = {"@context": document.get("@context"), **options}
    data = suite.hash_data(document, config, loader, budget=budget)
    return {**document, "proof": {**options, "proofValue": suite.proof_value(data, key)}}


def verify_proof(
    document: Mapping[str, Any],
    *,
    loader: JsonLdLoader,
    resolve_key: KeyResolver,
    clock: Clock,
    expected_purpose: str = "assertionMethod",
    expected_controller: str | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    max_clock_skew: timedelta = timedelta(minutes=5),
    budget: WorkBudget | None = None,
) -> VerifiedProof:
    """Verify the single proof of ``document``; raise a :class:`ProofVerificationError` subclass if it fails.

    ``expected_controller`` (the credential's issuer, or the presentation's holder) binds the key to the
    document: a valid signature by someone else's key is refused (SECURITY V8). An ``authentication`` proof
    needs the verifier's ``challenge``.
    """
    proof = _proof_of(document)
    now = clock()
    if now.tzinfo is None:
        raise TypeError("the clock must return a timezone-aware datetime")
    created = _check_times(proof, now, max_clock_skew)
    _check_purpose(proof, expected_purpose)
    _check_binding(proof, expected_purpose, challenge, domain)
    signature = suite.decode_proof_value(proof.get("proofValue"))
    method = _resolve(resolve_key, proof["verificationMethod"])
    _check_method(method, expected_purpose, expected_controller)
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    options["@context"] = _proof_context(document, proof)
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    unsecured["@context"] = options["@context"]
    data = suite.hash_data(unsecured, options, loader, budget=budget)
    suite.verify_signature(data, signature, method.public_key)
    return VerifiedProof(proof["verificationMethod"], method.controller, proof["proofPurpose"], created, proof)


def _proof_of(document: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise MalformedProofError("a secured document must be a JSON object")
    proof = document.get("proof")
    if isinstance(proof, list):
        raise MalformedProofError("proof sets are not supported; expected a single proof object")
    if not isinstance(proof, Mapping):
        raise MalformedProofError("document has no proof object")
    if "@context" not in document:
        raise ParsingError("document has no @context")
    for name in ("type", "verificationMethod", "proofPurpose", "proofValue"):
        if not isinstance(proof.get(name), str) or not proof[name]:
            raise MalformedProofError(f"proof.{name} is missing or not a string")
    if proof["type"] != PROOF_TYPE:
        raise ProofVerificationError(f"proof.type must be {PROOF_TYPE}")
    if proof.get("cryptosuite") != suite.NAME:
        raise ProofVerificationError(f"proof.cryptosuite must be {suite.NAME}")
    return proof


def _check_times(proof: Mapping[str, Any], now: datetime, skew: timedelta) -> datetime | None:
    try:
        created = parse_timestamp(proof["created"]) if "created" in proof else None
        expires = parse_timestamp(proof["expires"]) if "expires" in proof else None
    except ValueError as exc:
        raise ProofVerificationError(f"proof date is malformed: {exc}") from exc
    if created is not None and created > now + skew:
        raise ProofVerificationError("proof.created is in the future")
    if expires is not None and expires <= now:
        raise ProofVerificationError("proof has expired")
    return created


def _check_purpose(proof: Mapping[str, Any], expected: str) -> None:
    if proof["proofPurpose"] != expected:
        raise MismatchedProofPurposeError(f"proofPurpose must be {expected!r}")


def _check_binding(proof: Mapping[str, Any], purpose: str, challenge: str | None, domain: str | None) -> None:
    if purpose == "authentication" and challenge is None:
        raise InvalidChallengeError("verifying an authentication proof needs the verifier's challenge")
    if challenge is not None and proof.get("challenge") != challenge:
        raise InvalidChallengeError("proof.challenge does not match the verifier's challenge")
    if domain is not None:
        offered = proof.get("domain")
        domains = offered if isinstance(offered, list) else [offered]
        if domain not in domains:
            raise InvalidDomainError("proof.domain does not include the verifier's domain")


def _resolve(resolve_key: KeyResolver, method_id: str) -> VerificationMethod:
    try:
        return resolve_key(method_id)
    except Exception as exc:
        # The resolver may fail for many reasons (unknown DID, network, malformed document); to the verifier
        # they all mean the same: this proof cannot be checked. The cause stays chained for the logs.
        raise ProofVerificationError("verification method could not be resolved") from exc


def _check_method(method: VerificationMethod, purpose: str, controller: str | None) -> None:
    if controller is not None and method.controller != controller:
        raise ProofVerificationError("the proof's key is not controlled by the expected controller")
    if purpose not in method.relationships:
        raise ProofVerificationError(f"the key is not authorized by its controller for {purpose}")


def _proof_context(document: Mapping[str, Any], proof: Mapping[str, Any]) -> Any:
    """The proof configuration's ``@context``: the document's, or the proof's own if it is a prefix of it."""
    context = document.get("@context")
    if "@context" not in proof:
        return context
    own = proof["@context"]
    own_list, doc_list = _as_list(own), _as_list(context)
    if doc_list[: len(own_list)] != own_list:
        raise ProofVerificationError("proof @context must be a prefix of the document's @context")
    return own


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
