"""The verifier's memo of status lists that verified (credentials/verify_memo.py): it saves the repeated work of
a busy verifier and never lets a document through that the full checks would refuse."""

from __future__ import annotations

from datetime import timedelta

from credentials.status import Bitstring
from credentials.verify import CredentialVerifier
from credentials.verify_memo import SuccessMemo, digest
from tests.credentials.verify_support import LISTS, LOADER, NOW, World


def _verifier(world: World, memo: SuccessMemo, now=NOW) -> CredentialVerifier:  # type: ignore[no-untyped-def]
    return CredentialVerifier(loader=LOADER, resolve_key=world.resolve, clock=lambda: now,
                              retrieve_status_list=world.fetch, issuer_trust=world.trust, verified_lists=memo)


def test_a_status_list_that_verified_is_not_verified_again_within_the_ttl():
    world = World(web=True)
    memo = SuccessMemo(lambda: NOW)
    assert _verifier(world, memo).verify(world.credential()).verified
    resolved = len(world.resolved)
    assert _verifier(world, memo).verify(world.credential()).verified
    assert len(world.resolved) == resolved + 1  # the credential's own key only, not the two lists' again


def test_s2_a_status_list_changed_after_it_verified_is_checked_again_and_refused():
    world = World()
    memo = SuccessMemo(lambda: NOW)
    assert _verifier(world, memo).verify(world.credential()).verified
    world.lists[f"{LISTS}/revocation/1"]["validFrom"] = "2025-05-01T00:00:00Z"  # one value changed after signing
    result = _verifier(world, memo).verify(world.credential())
    assert result.check("status").code == "STATUS_VERIFICATION_ERROR" and not result.verified


def test_revocation_published_after_a_list_verified_is_seen_at_once():
    world = World()
    memo = SuccessMemo(lambda: NOW)
    assert _verifier(world, memo).verify(world.credential(index=7)).verified
    world.publish("revocation", set_bits=(7,))
    result = _verifier(world, memo).verify(world.credential(index=7))
    assert result.status == "revoked" and not result.verified


def test_s2_a_remembered_status_list_that_has_since_expired_is_refused():
    world = World()
    list_url = f"{LISTS}/revocation/1"
    world.lists[list_url] = world.sign({**{k: v for k, v in world.lists[list_url].items() if k != "proof"},
                                        "validUntil": "2025-06-02T00:00:00Z"})
    memo = SuccessMemo(lambda: NOW)
    assert _verifier(world, memo).verify(world.credential()).verified
    later = _verifier(world, memo, now=NOW + timedelta(days=2)).verify(world.credential())
    assert later.check("status").code == "STATUS_VERIFICATION_ERROR" and "validity" in later.check("status").reason


def test_the_memo_forgets_after_its_ttl_and_remembers_only_what_it_was_told():
    now = [NOW]
    memo = SuccessMemo(lambda: now[0], ttl=timedelta(seconds=60), size=2)
    first, second, third = digest({"a": 1}), digest({"a": 2}), digest({"a": 3})
    assert digest({"a": 1, "b": [1]}) == digest({"b": [1], "a": 1}) and first != second
    memo.remember(first)
    assert memo.passed(first) and not memo.passed(second)
    now[0] += timedelta(seconds=61)
    assert not memo.passed(first)
    memo.remember(first), memo.remember(second), memo.remember(third)
    assert not memo.passed(first) and memo.passed(second) and memo.passed(third)  # bounded: the oldest goes


def test_s4_short_list_is_still_refused_with_a_memo():
    world = World()
    world.publish("revocation", bitstring=Bitstring(bytes(1024)))
    memo = SuccessMemo(lambda: NOW)
    for _ in range(2):
        result = _verifier(world, memo).verify(world.credential(index=5))
        assert result.check("status").code == "STATUS_LIST_LENGTH_ERROR"
