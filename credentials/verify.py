"""High-level verification of a credential: every check named, with a reason a person can read.

The checks (:data:`~credentials.verification_result.CREDENTIAL_CHECKS`), in order:

- ``structure``: the VC Data Model 2.0 shape (:mod:`credentials.vc_structure`);
- ``context``: every ``@context`` is bundled (no network I/O, SECURITY V3/V5), and JSON-LD processing neither
  drops nor redefines anything (V4; found while the proof is canonicalized, so it costs nothing extra);
- ``proof``: the ``eddsa-rdfc-2022`` Data Integrity proof (V1, V6, V7 purpose, V9 ``created``/``expires``);
- ``issuer_key``: the proof's key belongs to the issuer (V8: its DID is the issuer's, checked *before* any lookup,
  so a forged credential never makes us fetch an attacker's DID) and is listed under ``assertionMethod`` (V7);
- ``validity``: ``validFrom``/``validUntil`` against the clock: ``not-yet-valid`` or ``expired`` (V9);
- ``status``: Bitstring Status List entries: ``revoked``, ``suspended``, or ``unknown`` when the list cannot be
  retrieved or verified — never ``active`` on an error (S2). Only run once the proof passed, so an unverified
  document cannot make the verifier fetch URLs it names;
- ``issuer_trust``: the caller's policy (:data:`~credentials.verification_result.IssuerTrust`), whose reason says
  what it is based on.

Everything outside is injected: the JSON-LD loader, the key resolver, the clock, the status list retriever and the
trust policy. Nothing here opens a connection or raises for a bad credential: :meth:`CredentialVerifier.verify`
returns a :class:`~credentials.verification_result.CredentialResult`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from credentials import vc_structure
from credentials.data_integrity import verify_proof
from credentials.data_integrity.datetimes import parse_timestamp
from credentials.errors import CredentialError, ParsingError, ProofVerificationError
from credentials.jsonld_loader import JsonLdLoader
from credentials.rdfc import WorkBudget
from credentials.status.check import check_credential_status
from credentials.status.errors import StatusError, StatusVerificationError
from credentials.verification_methods import KeyResolver, VerificationMethod
from credentials.verification_result import (
    Check,
    CredentialResult,
    IssuerTrust,
    Outcome,
    Status,
    Validity,
    skipped,
)
from credentials.verify_memo import SuccessMemo, digest

log = logging.getLogger("passerelle.credentials.verify")
RetrieveList = Callable[[str], Mapping[str, Any]]
"""``retrieve(url)`` → the status list credential at ``url`` (the node's guarded fetcher, or its own database)."""

NOT_CHECKED = "not checked: an earlier check failed"
_UNKNOWN_STATUS = ("STATUS_RETRIEVAL_ERROR", "STATUS_VERIFICATION_ERROR", "STATUS_LIST_LENGTH_ERROR")


def _short(text: object, limit: int = 120) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _reason(exc: BaseException) -> str:
    # Only this library's errors carry messages written to be shown; anything else is described, not quoted.
    if isinstance(exc, CredentialError):
        return _short(exc, 300)
    return "an unexpected error occurred"


@dataclass
class CredentialVerifier:
    """Verifies credentials with the given collaborators; build one per verifier (a node keeps one)."""

    loader: JsonLdLoader
    resolve_key: KeyResolver
    clock: Callable[[], datetime]
    retrieve_status_list: RetrieveList
    issuer_trust: IssuerTrust
    leeway: timedelta = timedelta(seconds=60)
    budget: Callable[[], WorkBudget | None] = field(default=lambda: None)
    #: Status list credentials that verified recently (a node passes one that outlives a request); see verify_memo.
    verified_lists: SuccessMemo | None = None

    def verify(self, credential: object) -> CredentialResult:
        """Run every check on ``credential`` and return the result; never raises for a bad credential."""
        return self._verify(credential, with_status=True)

    def _verify(self, credential: object, *, with_status: bool) -> CredentialResult:
        try:
            vc_structure.check_credential(credential)
        except CredentialError as exc:
            checks = [Check("structure", "failed", _reason(exc), exc.code)]
            checks += skipped(("context", "proof", "issuer_key", "validity", "status", "issuer_trust"),
                              "not checked: the document is not a well-formed credential")
            return CredentialResult(tuple(checks))
        assert isinstance(credential, Mapping)
        issuer = vc_structure.issuer_id(credential) or ""
        now = self.clock()
        checks = [Check("structure", "passed", "a well-formed Verifiable Credential (data model 2.0)")]
        binding = KeyBinding(self.resolve_key, issuer)
        context, proof, key = context_proof_and_key(self.loader, credential, binding, now=now, leeway=self.leeway,
                                                    budget=self.budget(), expected_controller=issuer)
        checks += [context, proof, key]
        validity, window = _validity(credential, now, self.leeway)
        checks.append(validity)
        status_value: Status | None = None
        if with_status:
            if proof.passed and key.passed:
                status, status_value = self._status(credential, issuer)
            else:
                status = Check("status", "skipped", "not checked: the credential's proof did not verify")
                status_value = "unknown"
            checks += [status, self._trust(issuer)]
        return CredentialResult(tuple(checks), _id(credential), issuer, tuple(vc_structure.types_of(credential)),
                                window, status_value)

    def _status(self, credential: Mapping[str, Any], issuer: str) -> tuple[Check, Status]:
        if credential.get("credentialStatus") is None:
            return Check("status", "passed", "the credential declares no status (it cannot be revoked)"), "none"
        try:
            results = check_credential_status(
                credential, retrieve=self.retrieve_status_list, verify_list=self._verify_list,
                is_trusted_list_issuer=lambda other: self._trusted(other),
            )
        except StatusError as exc:
            outcome: Outcome = "unknown" if exc.code in _UNKNOWN_STATUS else "failed"
            return Check("status", outcome, f"status unknown: {_reason(exc)}", exc.code), "unknown"
        except CredentialError as exc:
            return Check("status", "failed", _reason(exc), exc.code), "unknown"
        except Exception as exc:
            log.exception("unexpected failure while checking a status")
            return Check("status", "unknown", _reason(exc), "STATUS_VERIFICATION_ERROR"), "unknown"
        set_purposes = {result.purpose for result in results if not result.valid}
        if "revocation" in set_purposes:
            return Check("status", "failed", "the issuer has revoked this credential", "REVOKED"), "revoked"
        if "suspension" in set_purposes:
            return Check("status", "failed", "the issuer has suspended this credential", "SUSPENDED"), "suspended"
        if not results:
            return Check("status", "passed", "no Bitstring Status List entry to check"), "none"
        purposes = ", ".join(sorted({result.purpose for result in results}))
        return Check("status", "passed", f"not revoked and not suspended (checked: {purposes})"), "active"

    def _verify_list(self, list_credential: Mapping[str, Any]) -> None:
        """The status list credential must itself verify: structure, context, proof, issuer key, validity.

        With ``verified_lists``, the same document (byte for byte) that passed within the memo's TTL is not
        canonicalized and its signature not checked again; its validity window is checked every time.
        """
        key = digest(list_credential) if self.verified_lists is not None else None
        if key is not None and self.verified_lists is not None and self.verified_lists.passed(key):
            validity, _ = _validity(list_credential, self.clock(), self.leeway)
            if not validity.passed:
                raise StatusVerificationError(f"the status list's validity check failed: {validity.reason}")
            return
        result = self._verify(list_credential, with_status=False)
        for check in result.checks:
            if not check.passed:
                raise StatusVerificationError(f"the status list's {check.name} check failed: {check.reason}")
        if key is not None and self.verified_lists is not None:
            self.verified_lists.remember(key)

    def _trusted(self, issuer: str) -> bool:
        try:
            return self.issuer_trust(issuer).trusted
        except Exception:
            return False

    def _trust(self, issuer: str) -> Check:
        try:
            decision = self.issuer_trust(issuer)
        except Exception as exc:
            log.exception("issuer trust policy failed")
            return Check("issuer_trust", "unknown", f"the trust policy could not decide: {_reason(exc)}",
                         "TRUST_UNKNOWN")
        if decision.trusted:
            return Check("issuer_trust", "passed", decision.reason)
        return Check("issuer_trust", "failed", decision.reason, "UNTRUSTED_ISSUER")


class KeyBinding:
    """The key resolver handed to :func:`verify_proof`: checks the key's binding before resolving it.

    With ``controller`` (a credential's issuer, a presentation's holder) the key's DID must be that controller
    (SECURITY V8), checked before any lookup; the resolved key must be listed for ``purpose`` (V7).
    """

    def __init__(self, resolve: KeyResolver, controller: str | None, purpose: str = "assertionMethod",
                 check: str = "issuer_key", whose: str = "issuer") -> None:
        self.resolve, self.controller, self.purpose, self.check, self.whose = resolve, controller, purpose, check, whose
        self.failure: Check | None = None
        self.method_id: str | None = None

    def __call__(self, method_id: str) -> VerificationMethod:
        did = method_id.split("#", 1)[0] if isinstance(method_id, str) else ""
        if self.controller is not None and did != self.controller:
            self._fail(f"the proof was made with a key of {_short(did)}, not with a key of the {self.whose} "
                       f"{_short(self.controller)}")
        try:
            method = self.resolve(method_id)
        except Exception as exc:
            self._fail(f"the key {_short(method_id)} could not be found in the {self.whose}'s DID document: "
                       f"{_reason(exc)}")
        if method.controller != did:
            self._fail(f"the key is not controlled by the {self.whose}")
        if self.purpose not in method.relationships:
            self._fail(f"the key is not listed under {self.purpose} in the {self.whose}'s DID document")
        self.method_id = method_id
        return method

    def _fail(self, reason: str) -> NoReturn:
        self.failure = Check(self.check, "failed", reason, "PROOF_VERIFICATION_ERROR")
        raise ProofVerificationError(reason)

    def outcome(self) -> Check:
        if self.failure is not None:
            return self.failure
        if self.method_id is None:
            return Check(self.check, "skipped", "not checked: the proof is not usable")
        return Check(self.check, "passed", f"signed with {_short(self.method_id)}, a key the {self.whose} lists "
                     f"for {self.purpose}")


def context_proof_and_key(loader: JsonLdLoader, document: Mapping[str, Any], binding: KeyBinding, *,
                          now: datetime, leeway: timedelta, budget: WorkBudget | None,
                          **proof_options: Any) -> tuple[Check, Check, Check]:
    """The ``context``, ``proof`` and key checks of a secured document (credential or presentation).

    The context allow-list runs first (no loader is ever asked for an unknown URL); the proof is then verified
    with ``binding`` as key resolver, and its failures are sorted: the key's binding, JSON-LD processing (reported
    under ``context``), or the proof itself.
    """
    try:
        loader.check_contexts(document)
    except CredentialError as exc:
        reason = "not checked: the document's contexts are not accepted"
        return (Check("context", "failed", _reason(exc), exc.code), Check("proof", "skipped", reason),
                Check(binding.check, "skipped", reason))
    try:
        verify_proof(document, loader=loader, resolve_key=binding, clock=lambda: now, max_clock_skew=leeway,
                     budget=budget, **proof_options)
    except ProofVerificationError as exc:
        if binding.failure is not None:
            return (_context_passed(), Check("proof", "skipped", f"not checked: the {binding.whose}'s key is not "
                                             "usable"), binding.failure)
        return _context_passed(), Check("proof", "failed", _reason(exc), exc.code), binding.outcome()
    except ParsingError as exc:
        return (Check("context", "failed", f"JSON-LD processing refused the document: {_reason(exc)}", exc.code),
                Check("proof", "skipped", "not checked: the document cannot be processed as JSON-LD"),
                binding.outcome())
    except Exception as exc:  # a bug must not turn a bad document into a server error
        log.exception("unexpected failure while verifying a proof")
        return (_context_passed(), Check("proof", "failed", _reason(exc), "PROOF_VERIFICATION_ERROR"),
                binding.outcome())
    return _context_passed(), Check("proof", "passed", "the eddsa-rdfc-2022 signature verifies"), binding.outcome()


def _context_passed() -> Check:
    return Check("context", "passed", "every @context is a bundled, known context")


def _validity(credential: Mapping[str, Any], now: datetime, leeway: timedelta) -> tuple[Check, Validity | None]:
    # The structure check has already parsed these dates.
    valid_from = parse_timestamp(credential["validFrom"]) if "validFrom" in credential else None
    valid_until = parse_timestamp(credential["validUntil"]) if "validUntil" in credential else None
    if valid_from is not None and valid_from > now + leeway:
        return Check("validity", "failed", f"not yet valid: valid from {credential['validFrom']}",
                     "NOT_YET_VALID"), "not-yet-valid"
    if valid_until is not None and valid_until < now - leeway:
        return Check("validity", "failed", f"expired on {credential['validUntil']}", "EXPIRED"), "expired"
    if valid_until is None:
        since = f" since {credential['validFrom']}" if valid_from else ""
        return Check("validity", "passed", f"valid{since}, without an end date"), "valid"
    return Check("validity", "passed", f"valid until {credential['validUntil']}"), "valid"


def _id(credential: Mapping[str, Any]) -> str | None:
    value = credential.get("id")
    return value if isinstance(value, str) else None

