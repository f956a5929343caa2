"""The high-level presentation verifier: holder binding, challenge and domain, replay (SECURITY V15)."""

from __future__ import annotations

from datetime import timedelta

from credentials import did_key, keys
from credentials.verification_result import PRESENTATION_CHECKS
from credentials.verify_presentation import PRESENTATION_MAX_AGE, challenge_retention, verify_presentation
from tests.credentials.verify_support import NOW, World

V2 = "https://www.w3.org/ns/credentials/v2"
CHALLENGE = "4a4e2b6c-verifier-challenge"
DOMAIN = "https://recruiter.example"


class MemoryChallenges:
    """The challenge store a verifier passes: a set of the challenges already used."""

    def __init__(self):
        self.used: set[str] = set()

    def consume(self, challenge: str) -> bool:
        if challenge in self.used:
            return False
        self.used.add(challenge)
        return True


class Holder:
    def __init__(self):
        self.key = keys.generate("Ed25519")
        self.did = did_key.did_key_for(self.key)

    def present(self, world: World, credentials, *, challenge=CHALLENGE, domain=DOMAIN, holder=None, key=None):
        presentation = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": holder or self.did,
                        "verifiableCredential": credentials}
        key = key or self.key
        return world.sign(presentation, key=key, method=did_key.verification_method_id(did_key.did_key_for(key)),
                          proof_purpose="authentication", challenge=challenge, domain=domain,
                          clock=lambda: NOW)


def _verify(world, presentation, store=None, challenge=CHALLENGE, domain=DOMAIN, now=NOW):
    return verify_presentation(world.verifier(now), presentation, challenge=challenge, domain=domain,
                               challenges=store or MemoryChallenges())


def test_presentation_with_the_verifiers_challenge_and_domain_verifies_with_its_credentials():
    world, holder = World(), Holder()
    result = _verify(world, holder.present(world, [world.credential()]))
    assert result.verified and [c.name for c in result.checks] == list(PRESENTATION_CHECKS)
    assert len(result.credentials) == 1 and result.credentials[0].verified
    assert result.holder == holder.did and result.to_json()["kind"] == "presentation"


def test_v15_presentation_with_a_wrong_challenge_is_refused():
    world, holder = World(), Holder()
    result = _verify(world, holder.present(world, [world.credential()], challenge="another"))
    assert not result.verified and result.check("proof").code == "INVALID_CHALLENGE_ERROR"
    assert result.check("challenge").outcome == "skipped"


def test_v15_presentation_for_another_domain_is_refused():
    world, holder = World(), Holder()
    result = _verify(world, holder.present(world, [world.credential()], domain="https://other.example"))
    assert not result.verified and result.check("proof").code == "INVALID_DOMAIN_ERROR"


def test_v15_replayed_challenge_is_refused():
    world, holder, store = World(), Holder(), MemoryChallenges()
    presentation = holder.present(world, [world.credential()])
    assert _verify(world, presentation, store).verified
    replay = _verify(world, presentation, store)
    assert not replay.verified and replay.check("challenge").outcome == "failed"
    assert "replay" in replay.check("challenge").reason


def test_v15_a_forged_presentation_does_not_spend_the_holders_challenge():
    world, holder, store = World(), Holder(), MemoryChallenges()
    forged = holder.present(world, [world.credential()])
    forged["holder"] = Holder().did
    assert not _verify(world, forged, store).verified
    assert CHALLENGE not in store.used
    assert _verify(world, holder.present(world, [world.credential()]), store).verified


def test_v15_verifier_that_gives_no_challenge_cannot_accept_a_presentation():
    world, holder = World(), Holder()
    result = _verify(world, holder.present(world, [world.credential()]), challenge=None)
    assert not result.verified and result.check("challenge").code == "INVALID_CHALLENGE_ERROR"


def test_presentation_signed_by_someone_else_than_its_holder_fails_the_holder_key_check():
    world, holder, intruder = World(), Holder(), Holder()
    result = _verify(world, holder.present(world, [world.credential()], key=intruder.key))
    key = result.check("holder_key")
    assert key.outcome == "failed" and "not with a key of the holder" in key.reason and not result.verified


def test_presentation_with_a_changed_credential_is_not_verified():
    world, holder = World(), Holder()
    credential = world.credential()
    credential["credentialSubject"]["name"] = "Someone Else"
    result = _verify(world, holder.present(world, [credential]))
    assert result.check("proof").passed and not result.credentials[0].verified and not result.verified
    assert result.errors[0]["credential"] == "0"


def test_presentation_that_is_not_well_formed_fails_the_structure_check():
    world = World()
    for document in ({"@context": [V2], "type": ["VerifiableCredential"]}, [], {"type": "VerifiablePresentation"}):
        result = _verify(world, document)
        assert result.check("structure").outcome == "failed" and not result.verified


def test_v15_a_presentation_older_than_ten_minutes_is_refused_and_spends_no_challenge():
    world, holder, store = World(), Holder(), MemoryChallenges()
    presentation = holder.present(world, [world.credential()])  # made at NOW
    leeway = world.verifier().leeway
    fresh = _verify(world, presentation, store, now=NOW + PRESENTATION_MAX_AGE + leeway)
    assert fresh.verified  # the last moment it is still accepted
    stale = _verify(world, holder.present(world, [world.credential()], challenge="second"), store,
                    challenge="second", now=NOW + PRESENTATION_MAX_AGE + leeway + timedelta(seconds=1))
    assert not stale.verified and stale.check("challenge").code == "INVALID_CHALLENGE_ERROR"
    assert "more than 10 minutes ago" in stale.check("challenge").reason and "second" not in store.used


def test_a_used_challenge_need_not_be_remembered_past_the_retention_window():
    """Past :func:`challenge_retention`, a replay of the presentation is refused for its age alone."""
    world, holder = World(), Holder()
    presentation = holder.present(world, [world.credential()])
    leeway = world.verifier().leeway
    assert _verify(world, presentation, MemoryChallenges()).verified
    forgetful = MemoryChallenges()  # a store that has forgotten the first use
    replay = _verify(world, presentation, forgetful, now=NOW + challenge_retention(leeway) + timedelta(seconds=1))
    assert not replay.verified and replay.check("challenge").outcome == "failed"
