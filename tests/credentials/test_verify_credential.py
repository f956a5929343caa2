"""The high-level credential verifier: every check named, with a reason, for the cases of SECURITY.md
("Credentials and presentations", "Status lists")."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from credentials import keys
from credentials.did_key import did_key_for
from credentials.status import Bitstring, status_list_entry
from credentials.verification_result import CREDENTIAL_CHECKS
from tests.credentials.verify_support import LISTS, NOW, World

ALL_PASSED = dict.fromkeys(CREDENTIAL_CHECKS, "passed")


def test_signed_credential_passes_every_named_check_in_order():
    world = World()
    result = world.verifier().verify(world.credential())
    assert result.verified and [c.name for c in result.checks] == list(CREDENTIAL_CHECKS)
    assert all(c.outcome == "passed" and c.reason for c in result.checks)
    assert result.validity == "valid" and result.status == "active" and result.errors == []
    data = result.to_json()
    assert data["verified"] is True and data["issuer"] == world.did and data["type"][1] == "AlumniCredential"


def test_credential_of_a_did_web_issuer_verifies_through_its_did_document():
    world = World(web=True)
    assert world.outcomes(world.credential()) == ALL_PASSED
    assert "https://school.example/.well-known/did.json" in world.fetched


def test_v10_credential_with_blank_nodes_signed_by_us_verifies():
    world = World()
    credential = world.credential()
    assert "id" not in credential["credentialSubject"]  # the subject and its role are blank nodes
    assert world.verifier().verify(credential).verified


@pytest.mark.parametrize("path, value", [
    (("credentialSubject", "name"), "Camille Martine"),
    (("credentialSubject", "alumniOf", "classYear"), 2008),
    (("issuer", "name"), "École Exemple "),
    (("validFrom",), "2025-05-01T12:00:00Z"),
])
def test_v1_credential_with_one_value_changed_fails_the_proof_check(path, value):
    world = World()
    credential = world.credential()
    target = credential
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    result = world.verifier().verify(credential)
    assert not result.verified
    assert result.check("proof").outcome == "failed" and result.check("proof").code == "PROOF_VERIFICATION_ERROR"
    assert result.check("status").outcome == "skipped"  # an unverified document makes us fetch nothing


@pytest.mark.parametrize("context", [
    "http://169.254.169.254/latest/meta-data/",
    "https://evil.example/context.jsonld",
    {"name": "https://evil/"},
])
def test_v3_unknown_or_inline_context_is_refused_before_any_network_io(context):
    world = World()
    credential = world.credential()
    credential["@context"] = [*credential["@context"], context]
    result = world.verifier().verify(credential)
    assert result.check("context").outcome == "failed" and result.check("context").code == "PARSING_ERROR"
    assert result.check("proof").outcome == "skipped"
    assert world.fetched == [] and world.resolved == []


def test_v3_context_swapped_after_signing_is_refused_before_any_network_io():
    world = World()
    credential = world.credential()
    credential["@context"][1] = "https://w3id.org/passerelle/alumni/v2"
    result = world.verifier().verify(credential)
    assert result.check("context").outcome == "failed" and world.fetched == [] and world.resolved == []


def test_v4_bundled_context_that_redefines_a_protected_term_fails_the_context_check():
    world = World()
    credential = world.credential(sign=False)
    credential["@context"] = [*credential["@context"], "https://www.w3.org/2018/credentials/v1"]
    credential["proof"] = world.credential()["proof"]
    result = world.verifier().verify(credential)
    assert result.check("context").outcome == "failed"
    assert "protected term redefinition" in result.check("context").reason


def test_v5_examples_context_is_refused_in_production_mode():
    world = World()
    credential = world.credential()
    credential["@context"] = [*credential["@context"], "https://www.w3.org/ns/credentials/examples/v2"]
    result = world.verifier().verify(credential)
    assert result.check("context").outcome == "failed" and "not bundled" in result.check("context").reason


@pytest.mark.parametrize("change, code", [
    ({"type": "Ed25519Signature2020"}, "PROOF_VERIFICATION_ERROR"),
    ({"cryptosuite": "ecdsa-rdfc-2019"}, "PROOF_VERIFICATION_ERROR"),
    ({"cryptosuite": "eddsa-jcs-2022"}, "PROOF_VERIFICATION_ERROR"),
    ({"proofValue": "u" + "A" * 86}, "PROOF_VERIFICATION_ERROR"),
    ({"proofValue": "z3yz"}, "PROOF_VERIFICATION_ERROR"),
    ({"verificationMethod": None}, "MALFORMED_PROOF_ERROR"),
    ({"proofPurpose": None}, "MALFORMED_PROOF_ERROR"),
])
def test_v6_proof_of_another_kind_or_malformed_fails_the_proof_check(change, code):
    world = World()
    credential = world.credential()
    for name, value in change.items():
        if value is None:
            del credential["proof"][name]
        else:
            credential["proof"][name] = value
    result = world.verifier().verify(credential)
    assert result.check("proof").outcome == "failed" and result.check("proof").code == code


@pytest.mark.parametrize("proof", ["zabc", ["a", "b"], None])
def test_v6_proof_that_is_not_one_object_fails_the_proof_check(proof):
    world = World()
    credential = world.credential()
    credential["proof"] = proof
    result = world.verifier().verify(credential)
    assert not result.verified and result.check("proof").code == "MALFORMED_PROOF_ERROR"


def test_v7_proof_purpose_other_than_assertion_method_is_refused():
    world = World()
    credential = world.sign(world.credential(sign=False), proof_purpose="authentication", challenge="c")
    result = world.verifier().verify(credential)
    assert result.check("proof").code == "MISMATCHED_PROOF_PURPOSE_ERROR"


def test_v7_key_not_listed_under_assertion_method_fails_the_issuer_key_check():
    world = World(web=True)
    document = world.documents["https://school.example/.well-known/did.json"]
    document["assertionMethod"] = []
    result = world.verifier().verify(world.credential())
    key = result.check("issuer_key")
    assert key.outcome == "failed" and "not listed under assertionMethod" in key.reason
    assert result.check("proof").outcome == "skipped"


def test_key_not_listed_in_the_issuers_did_document_fails_the_issuer_key_check():
    world = World(web=True)
    stranger = keys.generate("Ed25519")
    credential = world.sign(world.credential(sign=False), key=stranger, method=f"{world.did}#{stranger.kid}")
    result = world.verifier().verify(credential)
    assert result.check("issuer_key").outcome == "failed" and "not in the DID document" in result.check(
        "issuer_key").reason


def test_v8_proof_key_of_another_did_than_the_issuer_is_refused_before_any_lookup():
    world = World(web=True)
    attacker = World()  # a did:key the attacker controls
    credential = attacker.sign(world.credential(sign=False))
    result = world.verifier().verify(credential)
    key = result.check("issuer_key")
    assert key.outcome == "failed" and "not with a key of the issuer" in key.reason
    assert world.resolved == [] and world.fetched == []
    assert not result.verified


def test_wrong_key_with_a_valid_signature_of_the_same_did_fails():
    world = World(web=True)
    rotated = keys.generate("Ed25519")
    world.documents["https://school.example/.well-known/did.json"]["verificationMethod"][0]["publicKeyMultibase"] = (
        rotated.public_multikey())
    result = world.verifier().verify(world.credential())
    assert result.check("proof").outcome == "failed" and result.check("issuer_key").outcome == "passed"


def test_v9_credential_valid_from_the_future_is_not_yet_valid():
    world = World()
    credential = world.credential(validFrom="2025-07-01T00:00:00Z")
    result = world.verifier().verify(credential)
    assert result.validity == "not-yet-valid" and result.check("validity").outcome == "failed"
    assert not result.verified and result.check("proof").outcome == "passed"


def test_v9_credential_past_valid_until_is_expired():
    world = World()
    credential = world.credential(validUntil="2025-05-31T00:00:00Z")
    result = world.verifier().verify(credential)
    assert result.validity == "expired" and result.check("validity").code == "EXPIRED" and not result.verified


def test_v9_validity_within_the_leeway_is_accepted():
    world = World()
    credential = world.credential(validFrom=(NOW + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert world.verifier().verify(credential).validity == "valid"


def test_v9_proof_created_in_the_future_or_expired_is_refused():
    world = World()
    future = world.sign(world.credential(sign=False), clock=lambda: NOW + timedelta(minutes=10))
    assert world.verifier().verify(future).check("proof").outcome == "failed"
    expired = world.sign(world.credential(sign=False), expires=NOW - timedelta(minutes=1))
    assert "expired" in world.verifier().verify(expired).check("proof").reason


def test_revoked_and_suspended_credentials_are_reported_as_such():
    world = World()
    credential = world.credential(index=7)
    world.publish("suspension", set_bits=(7,))
    suspended = world.verifier().verify(credential)
    assert suspended.status == "suspended" and suspended.check("status").outcome == "failed"
    world.publish("revocation", set_bits=(7,))
    revoked = world.verifier().verify(credential)
    assert revoked.status == "revoked" and "revoked" in revoked.check("status").reason and not revoked.verified


def test_s1_malformed_or_out_of_range_status_index_fails_the_status_check():
    world = World()
    for index, code in (("abc", "MALFORMED_VALUE_ERROR"), (True, "MALFORMED_VALUE_ERROR"),
                        ("-1", "MALFORMED_VALUE_ERROR"), (str(10**12), "RANGE_ERROR")):
        credential = world.credential(sign=False)
        credential["credentialStatus"][0]["statusListIndex"] = index
        result = world.verifier().verify(world.sign(credential))
        assert result.check("status").code == code, index
        assert result.status == "unknown" and not result.verified


def test_s2_status_list_that_cannot_be_retrieved_is_unknown_never_valid():
    world = World()
    del world.lists[f"{LISTS}/revocation/1"]
    result = world.verifier().verify(world.credential())
    assert result.check("status").outcome == "unknown" and result.check("status").code == "STATUS_RETRIEVAL_ERROR"
    assert result.status == "unknown" and not result.verified


def test_s2_status_list_with_a_bad_signature_is_unknown_never_valid():
    world = World()
    tampered = world.lists[f"{LISTS}/revocation/1"]
    tampered["validFrom"] = "2025-05-01T00:00:00Z"
    result = world.verifier().verify(world.credential())
    assert result.check("status").code == "STATUS_VERIFICATION_ERROR" and result.status == "unknown"
    assert "proof" in result.check("status").reason


def test_s3_revocation_entry_pointing_at_a_suspension_list_is_a_verification_error():
    world = World()
    world.publish("revocation", list_purpose="suspension")
    result = world.verifier().verify(world.credential())
    assert result.check("status").code == "STATUS_VERIFICATION_ERROR"


def test_s4_status_list_shorter_than_131072_entries_is_a_length_error():
    world = World()
    world.publish("revocation", bitstring=Bitstring(bytes(1024)))
    result = world.verifier().verify(world.credential(index=5))
    assert result.check("status").code == "STATUS_LIST_LENGTH_ERROR" and result.status == "unknown"


def test_s6_status_list_of_another_issuer_is_refused_unless_trusted():
    world = World()
    other = keys.generate("Ed25519")
    world.publish("revocation", key=other, issuer=did_key_for(other))
    assert world.verifier().verify(world.credential()).check("status").code == "STATUS_VERIFICATION_ERROR"
    world.trusted.add(did_key_for(other))
    assert world.verifier().verify(world.credential()).check("status").outcome == "passed"


def test_s6_status_entry_whose_id_is_the_list_url_is_malformed():
    world = World()
    credential = world.credential(sign=False)
    credential["credentialStatus"][0]["id"] = credential["credentialStatus"][0]["statusListCredential"]
    result = world.verifier().verify(world.sign(credential))
    assert result.check("status").code == "MALFORMED_VALUE_ERROR"


def test_credential_without_status_passes_the_status_check_and_says_so():
    world = World()
    result = world.verifier().verify(world.credential(status=False))
    assert result.verified and result.status == "none" and "no status" in result.check("status").reason


def test_untrusted_issuer_fails_the_issuer_trust_check_with_the_policys_reason():
    world = World()
    world.trusted.clear()
    result = world.verifier().verify(world.credential())
    trust = result.check("issuer_trust")
    assert trust.outcome == "failed" and trust.reason == "not listed by the test" and not result.verified
    assert result.check("proof").passed and result.check("status").passed


def test_a_trust_policy_that_fails_gives_unknown_not_trusted():
    world = World()
    verifier = world.verifier()

    def broken(issuer):
        raise RuntimeError("registry down")

    verifier.issuer_trust = broken
    result = verifier.verify(world.credential())
    assert result.check("issuer_trust").outcome == "unknown" and not result.verified
    assert "registry down" not in result.check("issuer_trust").reason


@pytest.mark.parametrize("change, words", [
    ({"issuer": None}, "issuer is required"),
    ({"issuer": "not a url"}, "issuer must be a URL"),
    ({"type": ["AlumniCredential"]}, "type must include VerifiableCredential"),
    ({"validFrom": "2025-01-01"}, "validFrom must be an XML Schema dateTimeStamp"),
    ({"validFrom": "2025-01-01T00:00:00"}, "validFrom must be an XML Schema dateTimeStamp"),
    ({"credentialSubject": []}, "credentialSubject must not be empty"),
    ({"id": "no scheme"}, "id must be a single URL"),
    ({"@context": ["https://w3id.org/passerelle/alumni/v1"]}, "first item"),
])
def test_malformed_credential_fails_the_structure_check_and_nothing_else_runs(change, words):
    world = World()
    credential = world.credential()
    for name, value in change.items():
        if value is None:
            del credential[name]
        else:
            credential[name] = value
    result = world.verifier().verify(credential)
    assert result.check("structure").outcome == "failed" and words in result.check("structure").reason
    assert {c.outcome for c in result.checks[1:]} == {"skipped"}
    assert world.fetched == [] and world.resolved == []


@pytest.mark.parametrize("document", [None, [], "a string", 42])
def test_a_document_that_is_not_an_object_is_refused_with_a_parsing_error(document):
    result = World().verifier().verify(document)
    assert not result.verified and result.check("structure").code == "PARSING_ERROR"


def test_the_verifier_never_mutates_the_credential():
    world = World()
    credential = world.credential()
    before = copy.deepcopy(credential)
    world.verifier().verify(credential)
    assert credential == before


def test_credential_with_only_a_revocation_entry_is_checked_for_revocation_only():
    world = World()
    credential = world.credential(sign=False)
    credential["credentialStatus"] = [status_list_entry(list_credential=f"{LISTS}/revocation/1", index=1,
                                                        purpose="revocation")]
    result = world.verifier().verify(world.sign(credential))
    assert result.verified and "revocation" in result.check("status").reason
