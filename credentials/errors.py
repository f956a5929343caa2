"""Typed errors of the credential library, one class per wire error name.

Each error carries ``code``, the name that the W3C specifications give to the failure, so the edge can put it in a
problem+json answer without guessing, and ``status``, the HTTP status it becomes there. Low-level checks raise
these; the high-level verifier (later work) catches them and names the failed check.

Names come from:
- Verifiable Credentials Data Model 2.0, §7.1 Verification / Processing errors:
  https://www.w3.org/TR/vc-data-model-2.0/#processing-errors (``PARSING_ERROR``, ``MALFORMED_VALUE_ERROR``).
- Data Integrity 1.0, §2.6 Processing errors: https://www.w3.org/TR/vc-data-integrity/#processing-errors
  (``PROOF_GENERATION_ERROR``, ``MALFORMED_PROOF_ERROR``, ``MISMATCHED_PROOF_PURPOSE_ERROR``,
  ``INVALID_DOMAIN_ERROR``, ``INVALID_CHALLENGE_ERROR``, ``PROOF_TRANSFORMATION_ERROR``).
- EdDSA Cryptosuites v1.0 (``PROOF_VERIFICATION_ERROR``): https://www.w3.org/TR/vc-di-eddsa/#verify-proof-eddsa-rdfc-2022
- DID Resolution (``invalidDid``): https://w3c.github.io/did-resolution/#errors
"""

from __future__ import annotations

from typing import ClassVar


class CredentialError(ValueError):
    """Base class: a credential, presentation or DID that this library refuses."""

    code: ClassVar[str] = "PARSING_ERROR"
    status: ClassVar[int] = 400


class ParsingError(CredentialError):
    """The document is not JSON-LD this node can process (VC DM 2.0 ``PARSING_ERROR``)."""

    code = "PARSING_ERROR"


class ContextNotAllowedError(ParsingError):
    """An ``@context`` that is not bundled, is an inline object, or is test-only outside test mode.

    Raised before any document loader runs, so no network I/O can happen (SECURITY V3, V5).
    """


class UnsafeJsonLdError(ParsingError):
    """JSON-LD processing would silently drop or rewrite data, so that part would not be signed.

    Covers undefined terms, relative or malformed IRIs, reserved keywords and the other cases that
    jsonld.js rejects in its "safe mode" (which the Digital Bazaar cryptosuites use).
    """


class CanonicalizationLimitError(ParsingError):
    """RDF canonicalization exceeded its work budget (a "poison" graph) or its deadline, or was cancelled."""


class CanonicalOrderError(ParsingError):
    """The canonical order of statements would differ between implementations, so a proof would not be portable.

    RDFC-1.0 sorts in Unicode code point order; rdf-canonize (behind the JavaScript cryptosuites) sorts by UTF-16
    code units. The two disagree only when one statement has a character above U+FFFF where another has one in
    U+E000-U+FFFF; such a document is refused rather than signed or judged differently on each side.
    """


class MalformedValueError(CredentialError):
    """A value with the wrong type or shape (VC DM 2.0 ``MALFORMED_VALUE_ERROR``)."""

    code = "MALFORMED_VALUE_ERROR"


class InvalidDidError(CredentialError):
    """A DID that does not conform to its method (DID Resolution ``invalidDid``)."""

    code = "invalidDid"


class ProofGenerationError(CredentialError):
    """A proof could not be created from these inputs (Data Integrity ``PROOF_GENERATION_ERROR``)."""

    code = "PROOF_GENERATION_ERROR"


class ProofTransformationError(CredentialError):
    """The document could not be transformed for this cryptosuite (``PROOF_TRANSFORMATION_ERROR``)."""

    code = "PROOF_TRANSFORMATION_ERROR"


class ProofVerificationError(CredentialError):
    """A proof that does not verify (EdDSA cryptosuite ``PROOF_VERIFICATION_ERROR``).

    Every verification failure below is a subclass, so ``except ProofVerificationError`` catches them all.
    """

    code = "PROOF_VERIFICATION_ERROR"


class MalformedProofError(ProofVerificationError):
    """The proof is not an object, or lacks ``type``, ``verificationMethod`` or ``proofPurpose``."""

    code = "MALFORMED_PROOF_ERROR"


class MismatchedProofPurposeError(ProofVerificationError):
    """``proofPurpose`` differs from what the verifier expects, or the key may not be used for it."""

    code = "MISMATCHED_PROOF_PURPOSE_ERROR"


class InvalidChallengeError(ProofVerificationError):
    """The proof's ``challenge`` is missing or differs from the verifier's."""

    code = "INVALID_CHALLENGE_ERROR"


class InvalidDomainError(ProofVerificationError):
    """The proof's ``domain`` is missing or does not include the verifier's."""

    code = "INVALID_DOMAIN_ERROR"
