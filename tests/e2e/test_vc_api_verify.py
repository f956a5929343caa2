"""POST /credentials/verify and /presentations/verify over real HTTP: each bad input refused with its reason,
never a server error (SECURITY V1 to V9, V15, S2, S7, D1)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from credentials import did_key, keys
from credentials.data_integrity import create_proof
from nodes import keyring
from nodes.credential_states import change_state
from tests.e2e.admin_browsing import node_context
from tests.e2e.vc_support import V2, checks, issuer, verify

CHALLENGE = "challenge-" + uuid.uuid4().hex


def _sign_as_node(school, document):
    """Sign ``document`` with the live node's own current key, as if the node had issued it."""
    node = node_context(school.live)
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    return create_proof(document, key=key, verification_method=f"{node.did}#{key.kid}", loader=node.loader,
                        clock=lambda: datetime.now(UTC))


def test_v1_credential_with_one_value_changed_is_400_proof_verification_error(live_node):
    school = issuer(live_node)
    credential = school.issue()
    credential["credentialSubject"]["alumniOf"]["classYear"] = 2008
    answer = verify(school.live, credential)
    assert answer.status_code == 400 and answer.json()["verified"] is False
    assert {"check": "proof", "code": "PROOF_VERIFICATION_ERROR", "message": "signature does not verify"} in (
        answer.json()["errors"])


@pytest.mark.parametrize("change, check", [
    ({"@context": [V2, "http://169.254.169.254/latest/meta-data/"]}, "context"),
    ({"@context": [V2, "https://w3id.org/passerelle/alumni/v1", {"name": "https://evil/"}]}, "context"),
    ({"@context": [V2, "https://w3id.org/passerelle/alumni/v1", "https://www.w3.org/2018/credentials/v1"]},
     "context"),
    ({"@context": [V2, "https://w3id.org/passerelle/alumni/v1", "https://www.w3.org/ns/credentials/examples/v2"]},
     "context"),
])
def test_v3_v4_v5_context_problems_are_400_with_the_context_check_failed(live_node, change, check):
    school = issuer(live_node)
    credential = {**school.issue(), **change}
    answer = verify(school.live, credential)
    assert answer.status_code == 400 and checks(answer)[check] == "failed"


@pytest.mark.parametrize("proof_change", [
    {"type": "Ed25519Signature2020"}, {"cryptosuite": "ecdsa-rdfc-2019"}, {"proofValue": "uAAAA"},
    {"proofValue": "z2"}, {"proofPurpose": "authentication"}, {"verificationMethod": None}, {"proofPurpose": None},
])
def test_v6_v7_proof_of_another_kind_purpose_or_shape_is_400(live_node, proof_change):
    school = issuer(live_node)
    credential = school.issue()
    for name, value in proof_change.items():
        if value is None:
            del credential["proof"][name]
        else:
            credential["proof"][name] = value
    answer = verify(school.live, credential)
    assert answer.status_code == 400 and checks(answer)["proof"] == "failed"


def test_v8_credential_in_the_nodes_name_signed_by_an_attackers_key_is_refused(live_node):
    school = issuer(live_node)
    attacker = keys.generate("Ed25519")
    unsigned = {k: v for k, v in school.issue().items() if k != "proof"}
    forged = create_proof(unsigned, key=attacker,
                          verification_method=did_key.verification_method_id(did_key.did_key_for(attacker)),
                          loader=node_context(school.live).loader, clock=lambda: datetime.now(UTC))
    answer = verify(school.live, forged)
    assert answer.status_code == 400 and checks(answer)["issuer_key"] == "failed"


def test_v9_not_yet_valid_and_expired_credentials_are_reported_as_such(live_node):
    school = issuer(live_node)
    future = school.issue(validFrom=(datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    expired = school.issue(validFrom="2020-01-01T00:00:00Z", validUntil="2021-01-01T00:00:00Z")
    for credential, validity in ((future, "not-yet-valid"), (expired, "expired")):
        answer = verify(school.live, credential)
        assert answer.status_code == 400 and answer.json()["validity"] == validity


def test_revoked_and_suspended_credentials_are_seen_by_the_issuing_nodes_verifier(live_node):
    school = issuer(live_node)
    revoked, suspended = school.issue(), school.issue()
    node = node_context(school.live)
    change_state(node, revoked["id"], "revoke", "fraud", actor="test")
    change_state(node, suspended["id"], "suspend", "check", actor="test")
    assert verify(school.live, revoked).json()["status"] == "revoked"
    assert verify(school.live, suspended).json()["status"] == "suspended"
    change_state(node, suspended["id"], "reinstate", "checked", actor="test")
    assert verify(school.live, suspended).status_code == 200


def test_s7_status_list_at_a_private_address_is_a_retrieval_error_never_valid(live_node):
    school = issuer(live_node)
    unsigned = {k: v for k, v in school.issue().items() if k != "proof"}
    unsigned["id"] = f"urn:uuid:{uuid.uuid4()}"
    for entry in unsigned["credentialStatus"]:
        entry["statusListCredential"] = "http://169.254.169.254/latest/status"
        entry["id"] = "http://169.254.169.254/latest/status#1"
    answer = verify(school.live, _sign_as_node(school, unsigned))
    status = next(c for c in answer.json()["checks"] if c["check"] == "status")
    assert answer.status_code == 400 and status["outcome"] == "unknown"
    assert status["code"] == "STATUS_RETRIEVAL_ERROR" and answer.json()["status"] == "unknown"


@pytest.mark.parametrize("did", ["did:web:127.0.0.1", "did:web:169.254.169.254", "did:web:2130706433",
                                 "did:web:%5B%3A%3A1%5D"])
def test_d1_issuer_did_web_with_an_ip_literal_fails_the_issuer_key_check(live_node, did):
    school = issuer(live_node)
    credential = school.issue()
    credential["issuer"] = {"id": did, "name": "x"}
    credential["proof"]["verificationMethod"] = f"{did}#key-1"
    answer = verify(school.live, credential)
    key = next(c for c in answer.json()["checks"] if c["check"] == "issuer_key")
    assert answer.status_code == 400 and key["outcome"] == "failed"


def _presentation(school, credential, *, challenge=CHALLENGE, domain="https://recruiter.example"):
    holder = keys.generate("Ed25519")
    did = did_key.did_key_for(holder)
    document = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": did,
                "verifiableCredential": [credential]}
    return create_proof(document, key=holder, verification_method=did_key.verification_method_id(did),
                        loader=node_context(school.live).loader, clock=lambda: datetime.now(UTC),
                        proof_purpose="authentication", challenge=challenge, domain=domain)


def _verify_presentation(school, presentation, challenge=CHALLENGE, domain="https://recruiter.example"):
    with school.live.client() as client:
        return client.post("/presentations/verify", json={
            "verifiablePresentation": presentation, "options": {"challenge": challenge, "domain": domain}})


def test_v15_presentation_verifies_once_then_its_challenge_is_a_replay(live_node):
    school = issuer(live_node)
    presentation = _presentation(school, school.issue())
    first = _verify_presentation(school, presentation)
    assert first.status_code == 200 and first.json()["verified"] is True
    assert first.json()["credentials"][0]["verified"] is True
    replay = _verify_presentation(school, copy.deepcopy(presentation))
    assert replay.status_code == 400 and checks(replay)["challenge"] == "failed"


def test_v15_presentation_with_a_wrong_challenge_or_domain_is_refused(live_node):
    school = issuer(live_node)
    credential = school.issue()
    wrong_challenge = _verify_presentation(school, _presentation(school, credential, challenge="other"))
    wrong_domain = _verify_presentation(school, _presentation(school, credential, domain="https://evil.example"))
    assert wrong_challenge.status_code == 400 and checks(wrong_challenge)["proof"] == "failed"
    assert wrong_domain.status_code == 400 and checks(wrong_domain)["proof"] == "failed"


@pytest.mark.parametrize("body", [{}, {"verifiableCredential": "x"}, {"verifiableCredential": []}])
def test_verify_request_without_a_credential_object_is_400(live_node, body):
    school = issuer(live_node)
    with school.live.client() as client:
        answer = client.post("/credentials/verify", json=body)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
