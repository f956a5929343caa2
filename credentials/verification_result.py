"""What a verification tells its caller: an overall ``verified`` and every named check with its reason.

Modelled on Digital Bazaar's ``{verified, results, error}``: verification returns, it does not raise, so a page or
an API can show *which* check failed and *why*. A check's outcome is ``passed``, ``failed``, ``unknown`` (the answer
could not be obtained, for example a status list that could not be fetched: never counted as passed) or
``skipped`` (not run because an earlier check failed). ``verified`` is true only when every check passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["passed", "failed", "unknown", "skipped"]

CREDENTIAL_CHECKS = ("structure", "context", "proof", "issuer_key", "validity", "status", "issuer_trust")
"""The checks of a credential, in the order they are reported."""

PRESENTATION_CHECKS = ("structure", "context", "proof", "holder_key", "challenge")
"""The checks of the presentation itself; each embedded credential has its own :data:`CREDENTIAL_CHECKS`."""

Validity = Literal["valid", "not-yet-valid", "expired"]
Status = Literal["active", "revoked", "suspended", "unknown", "none"]


@dataclass(frozen=True)
class Check:
    """One named check. ``code`` is the specification's error name when the check did not pass."""

    name: str
    outcome: Outcome
    reason: str
    code: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"check": self.name, "outcome": self.outcome, "reason": self.reason}
        if self.code:
            data["code"] = self.code
        return data


@dataclass(frozen=True)
class TrustDecision:
    """Whether the verifier trusts an issuer, and on what basis (a sentence a person can read)."""

    trusted: bool
    reason: str


IssuerTrust = Callable[[str], TrustDecision]
"""``trust(issuer_id)`` → :class:`TrustDecision`. The caller's policy (a node: itself and a configured list)."""


def _errors(checks: tuple[Check, ...]) -> list[dict[str, str]]:
    return [{"check": c.name, "code": c.code or "VERIFICATION_ERROR", "message": c.reason}
            for c in checks if c.outcome in ("failed", "unknown")]


@dataclass(frozen=True)
class CredentialResult:
    """The verification of one credential."""

    checks: tuple[Check, ...]
    credential_id: str | None = None
    issuer: str | None = None
    types: tuple[str, ...] = ()
    validity: Validity | None = None
    status: Status | None = None

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def check(self, name: str) -> Check:
        """The check called ``name``; :class:`KeyError` if there is none."""
        return _named(self.checks, name)

    @property
    def errors(self) -> list[dict[str, str]]:
        return _errors(self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified, "kind": "credential", "id": self.credential_id, "issuer": self.issuer,
            "type": list(self.types), "validity": self.validity, "status": self.status,
            "checks": [c.to_json() for c in self.checks], "errors": self.errors,
        }


@dataclass(frozen=True)
class PresentationResult:
    """The verification of a presentation and of every credential it carries."""

    checks: tuple[Check, ...]
    credentials: tuple[CredentialResult, ...] = field(default=())
    holder: str | None = None

    @property
    def verified(self) -> bool:
        own = bool(self.checks) and all(check.passed for check in self.checks)
        return own and all(result.verified for result in self.credentials)

    def check(self, name: str) -> Check:
        """The check called ``name``; :class:`KeyError` if there is none."""
        return _named(self.checks, name)

    @property
    def errors(self) -> list[dict[str, str]]:
        found = _errors(self.checks)
        for index, result in enumerate(self.credentials):
            found += [{**e, "credential": str(index)} for e in result.errors]
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified, "kind": "presentation", "holder": self.holder,
            "checks": [c.to_json() for c in self.checks],
            "credentials": [r.to_json() for r in self.credentials], "errors": self.errors,
        }


def skipped(names: tuple[str, ...], reason: str) -> list[Check]:
    """``skipped`` checks for every name, with one reason."""
    return [Check(name, "skipped", reason) for name in names]


def _named(checks: tuple[Check, ...], name: str) -> Check:
    for item in checks:
        if item.name == name:
            return item
    raise KeyError(name)
