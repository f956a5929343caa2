"""A credential issued by one node verifies at another over real HTTP: did:web and status lists resolved between
two live nodes in development mode, revocation seen by the verifier, key rotation, trust, a peer that is down."""

from __future__ import annotations

import time

from credentials.did_web import did_from_base_url
from nodes import keyring
from nodes.credential_states import change_state
from tests.e2e.admin_browsing import node_context
from tests.e2e.vc_support import checks, issuer, verify


def test_credential_issued_by_node_a_verifies_at_node_b_over_http(live_node):
    school = issuer(live_node)
    company = live_node(kind="company", trusted_issuers=[did_from_base_url(school.live.url)])
    credential = school.issue()
    answer = verify(company, credential)
    assert answer.status_code == 200, answer.json()
    assert set(checks(answer).values()) == {"passed"} and answer.json()["status"] == "active"
    trust = next(c for c in answer.json()["checks"] if c["check"] == "issuer_trust")
    assert "trusted_issuers" in trust["reason"] and "federation" in trust["reason"]


def test_a_node_that_does_not_trust_the_issuer_says_so_and_does_not_verify(live_node):
    school = issuer(live_node)
    company = live_node(kind="company")
    answer = verify(company, school.issue())
    assert answer.status_code == 400
    assert checks(answer) == {"structure": "passed", "context": "passed", "proof": "passed", "issuer_key": "passed",
                              "validity": "passed", "status": "passed", "issuer_trust": "failed"}


def test_revocation_at_the_issuer_is_seen_by_the_other_nodes_verifier(live_node):
    school = issuer(live_node, status_list_ttl_seconds=1)
    company = live_node(kind="company", trusted_issuers=[did_from_base_url(school.live.url)])
    credential = school.issue()
    assert verify(company, credential).status_code == 200
    change_state(node_context(school.live), credential["id"], "revoke", "degree withdrawn", actor="test")
    time.sleep(1.2)  # the list's ttl: the verifier may use its cached copy until then
    answer = verify(company, credential)
    assert answer.status_code == 400 and answer.json()["status"] == "revoked"


def test_after_a_key_rotation_the_old_credential_still_verifies_and_new_ones_use_the_new_key(live_node):
    school = issuer(live_node)
    old = school.issue()
    node = node_context(school.live)
    new_kid = keyring.rotate(node.engine, node.secret, "credentials")
    new = school.issue()
    assert old["proof"]["verificationMethod"] != new["proof"]["verificationMethod"]
    assert new["proof"]["verificationMethod"].endswith("#" + new_kid)
    company = live_node(kind="company", trusted_issuers=[node.did])
    assert verify(company, old).status_code == 200
    assert verify(company, new).status_code == 200
    assert verify(school.live, old).status_code == 200


def test_x7_issuer_down_means_the_credential_is_not_verified_never_valid(live_node):
    school = issuer(live_node)
    company = live_node(kind="company", trusted_issuers=[did_from_base_url(school.live.url)])
    credential = school.issue()
    school.live.stop()
    answer = verify(company, credential)
    assert answer.status_code == 400 and answer.json()["verified"] is False
    assert answer.json()["status"] != "active"
    key = next(c for c in answer.json()["checks"] if c["check"] == "issuer_key")
    assert key["outcome"] == "failed" and "could not be retrieved" in key["reason"]
