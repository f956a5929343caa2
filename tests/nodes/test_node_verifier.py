"""The node's verifier outside development mode: a did:web or a status list that points at a private address is
refused by the SSRF guard before any connection (SECURITY D7, S7), and the issuer trust policy names itself."""

from __future__ import annotations

from nodes.issuance import issue_affiliations
from nodes.verification import node_trust, verify_credential_for
from tests.nodes.credential_support import context, seed_alumni


def test_a_did_web_that_points_at_a_private_address_is_refused_outside_dev_mode(make_node, live_node):
    issuer = context(live_node().node)
    [row] = issue_affiliations(issuer, seed_alumni(issuer, 1), actor="test").issued
    verifier = context(make_node(base_url="https://verifier.example", dev_mode=False,
                                 trusted_issuers=[issuer.did]))
    result = verify_credential_for(verifier, row.document)
    key = result.check("issuer_key")
    assert key.outcome == "failed" and "public address" in key.reason
    assert not result.verified and result.status == "unknown"


def test_the_same_credential_verifies_at_its_issuer_without_any_outbound_request(live_node):
    issuer = context(live_node().node)
    [row] = issue_affiliations(issuer, seed_alumni(issuer, 1), actor="test").issued
    result = verify_credential_for(issuer, row.document)
    assert result.verified and result.status == "active"
    assert issuer.__dict__.get("fetcher") is None  # own DID and own lists come from the database


def test_the_trust_policy_is_this_node_and_its_list_and_says_so(make_node):
    node = context(make_node(trusted_issuers=["did:web:partner.example"]))
    trust = node_trust(node)
    assert trust(node.did).trusted and trust("did:web:partner.example").trusted
    refused = trust("did:web:stranger.example")
    assert not refused.trusted and "federation trust is not available yet" in refused.reason


def test_used_presentation_challenges_are_forgotten_once_a_replay_would_be_too_old_anyway(make_node):
    from datetime import timedelta

    from sqlalchemy import func
    from sqlmodel import Session, select

    from credentials.verify_presentation import challenge_retention
    from nodes.storage.credential_tables import PresentationChallenge
    from nodes.verification import DatabaseChallenges
    from tests.movable_clock import MovableClock

    clock = MovableClock()
    node = context(make_node(), clock=clock)
    store = DatabaseChallenges(node, challenge_retention(timedelta(seconds=60)))
    assert store.consume("first") and not store.consume("first")  # a replay while it is remembered
    clock.advance(minutes=11, seconds=1)
    assert store.consume("second")
    with Session(node.engine) as db:  # only the second is still there
        assert db.exec(select(func.count()).select_from(PresentationChallenge)).one() == 1
