"""High-level verification of a presentation: its own checks, then each credential it carries.

A presentation proves that its holder is present *now*, for *this* verifier: its proof has
``proofPurpose: authentication`` and carries the ``challenge`` (and ``domain``) the verifier sent (SECURITY V15).
The checks (:data:`~credentials.verification_result.PRESENTATION_CHECKS`):

- ``structure``, ``context``, ``proof`` as for a credential, the proof bound to the verifier's challenge and domain;
- ``holder_key``: the key belongs to the ``holder`` when one is named (checked before any lookup) and is listed
  under ``authentication``;
- ``challenge``: the presentation is fresh and the challenge was not used before. Its proof must state when it was
  made (``created``), at most :data:`PRESENTATION_MAX_AGE` ago (with the verifier's leeway): a holder answers a
  challenge when it receives it. The caller's :class:`ChallengeStore` records the challenge; a second presentation
  with the same challenge is a replay and is refused. A challenge is only spent by a presentation whose proof
  verified, so a forged presentation cannot burn a genuine holder's challenge. Because an older presentation is
  refused anyway, the store may forget challenges used more than :func:`challenge_retention` ago.

Every embedded credential is then verified with the :class:`~credentials.verify.CredentialVerifier`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from credentials import vc_structure
from credentials.data_integrity.datetimes import parse_timestamp
from credentials.errors import CredentialError, MalformedValueError
from credentials.verification_result import Check, PresentationResult, skipped
from credentials.verify import CredentialVerifier, KeyBinding, context_proof_and_key

MAX_CHALLENGE_LENGTH = 512
PRESENTATION_MAX_AGE = timedelta(minutes=10)
"""How old a presentation's proof may be: it answers a challenge the verifier has just sent."""


def challenge_retention(leeway: timedelta) -> timedelta:
    """How long a used challenge must be remembered: past that, a replay is refused as too old anyway."""
    return PRESENTATION_MAX_AGE + leeway


class ChallengeStore(Protocol):
    """Remembers the challenges that presentations have used (a node keeps them in its database)."""

    def consume(self, challenge: str) -> bool:
        """Record ``challenge`` as used; return ``False`` if it had been used before (a replay)."""
        ...


def verify_presentation(
    verifier: CredentialVerifier,
    presentation: object,
    *,
    challenge: str | None,
    domain: str | None,
    challenges: ChallengeStore,
) -> PresentationResult:
    """Verify ``presentation`` for the verifier's ``challenge`` and ``domain``; never raises for bad input."""
    try:
        items = vc_structure.check_presentation(presentation)
        _check_options(challenge, domain)
    except CredentialError as exc:
        checks = [Check("structure", "failed", str(exc)[:300], exc.code)]
        checks += skipped(("context", "proof", "holder_key", "challenge"),
                          "not checked: the document is not a well-formed presentation")
        return PresentationResult(tuple(checks))
    assert isinstance(presentation, Mapping)
    holder = vc_structure.holder_id(presentation)
    binding = KeyBinding(verifier.resolve_key, holder, purpose="authentication", check="holder_key",
                         whose="holder")
    context, proof, key = context_proof_and_key(
        verifier.loader, presentation, binding, now=verifier.clock(), leeway=verifier.leeway,
        budget=verifier.budget(), expected_purpose="authentication", expected_controller=holder,
        challenge=challenge, domain=domain,
    )
    checks = [Check("structure", "passed", "a well-formed Verifiable Presentation (data model 2.0)"),
              context, proof, key, _replay(presentation, proof, key, challenge, challenges, verifier.clock(),
                                           verifier.leeway)]
    credentials = tuple(verifier.verify(item) for item in items)
    return PresentationResult(tuple(checks), credentials, holder)


def _check_options(challenge: str | None, domain: str | None) -> None:
    for name, value in (("challenge", challenge), ("domain", domain)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_CHALLENGE_LENGTH):
            raise MalformedValueError(f"the verifier's {name} must be a non-empty string")


def _replay(presentation: Mapping[str, Any], proof: Check, key: Check, challenge: str | None,
            challenges: ChallengeStore, now: datetime, leeway: timedelta) -> Check:
    if challenge is None:
        return Check("challenge", "failed", "the verifier did not state the challenge it sent to the holder",
                     "INVALID_CHALLENGE_ERROR")
    if not (proof.passed and key.passed):
        return Check("challenge", "skipped", "not checked: the presentation's proof did not verify")
    created = _created(presentation)
    if created is None:
        return Check("challenge", "failed", "the presentation's proof does not say when it was made, so it cannot "
                     "be told from an old answer to this challenge", "INVALID_CHALLENGE_ERROR")
    if created < now - PRESENTATION_MAX_AGE - leeway:
        minutes = int(PRESENTATION_MAX_AGE.total_seconds() // 60)
        return Check("challenge", "failed", f"the presentation was made more than {minutes} minutes ago: ask the "
                     "holder for a new one", "INVALID_CHALLENGE_ERROR")
    if not challenges.consume(challenge):
        return Check("challenge", "failed", "this challenge was already used: the presentation is a replay",
                     "INVALID_CHALLENGE_ERROR")
    return Check("challenge", "passed", "the challenge is fresh and the proof is bound to it")


def _created(presentation: Mapping[str, Any]) -> datetime | None:
    """The proof's ``created`` (already checked well-formed and not in the future when the proof verified)."""
    proof = presentation.get("proof")
    value = proof.get("created") if isinstance(proof, Mapping) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None
