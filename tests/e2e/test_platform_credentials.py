"""Alumni Hub verifies the affiliation credentials it receives against the issuer's own DID document, over HTTP.

Credentials are signed here with a live node's real ``credentials`` key (as the node will sign them), or issued by
the node itself (:func:`nodes.credentials_service.ensure_member_credentials`), and the platform's verifier fetches
that node's ``/.well-known/did.json``. A credential passes only when every check passes: issuer, signature, validity
period, status (an unreadable status is unknown, never valid) and holder (the subject is the member who signed in).

A node hands a member only that member's credentials, so another member's credential cannot reach the platform
through a real sign-in without changing the node; these tests give it to the platform's own verification function
(:func:`verify_received`) instead. ``test_platform.py`` shows the page's side.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from credentials.affiliation import Affiliation, Organisation, affiliation_credential
from credentials.data_integrity import create_proof
from credentials.did_web import did_from_base_url
from credentials.jsonld_loader import JsonLdLoader
from credentials.status.documents import status_list_entry
from nodes import keyring
from nodes.examples.platform.credential_check import (
    NOT_VERIFIED,
    UNMATCHED,
    VERIFIED,
    _holder,
    holder_name,
    same_origin_fetcher,
    verify_received,
)
from tests.e2e.platform_support import holding_a_credential

LOADER = JsonLdLoader()
NOW = datetime.now(UTC).replace(microsecond=0)


def _signed(live, *, issuer_of=None, valid_until=None, status=(), **fields):
    """An AlumniCredential for Alice, issued in the name of ``issuer_of`` (default: ``live``) and signed with
    ``live``'s current credentials key."""
    node = live.node
    issuer_did = did_from_base_url((issuer_of or live).url)
    signer_did = did_from_base_url(live.url)
    organisation = Organisation(id=issuer_did, name="École Test", kind="school")
    affiliation = Affiliation(organisation=organisation, member_name="Alice Martin",
                              **({"programme": "Génie civil", "degree": "Master", "class_year": 2018} | fields))
    credential = affiliation_credential(affiliation, credential_id=f"urn:uuid:{uuid.uuid4()}",
                                        valid_from=NOW - timedelta(days=1), valid_until=valid_until,
                                        credential_status=list(status))
    kid = keyring.published_keys(node.engine, "credentials")[0].kid
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    return create_proof(credential, key=key, verification_method=f"{signer_did}#{kid}", loader=LOADER,
                        clock=lambda: NOW)


def _verify(live, received, member_name="Alice Martin"):
    with httpx.Client(timeout=5) as client:
        fetch = same_origin_fetcher(live.url, client)
        return verify_received(received, live.url, fetch, LOADER, member_name=member_name, http_for_localhost=True)


def _checks(result):
    return {check.name: check.ok for check in result.checks}


def test_credential_signed_by_the_network_verifies_with_every_check_named(live_node):
    school = live_node()
    [result] = _verify(school, [_signed(school)])
    assert result.verified and result.state == VERIFIED
    assert _checks(result) == {"issuer": True, "signature": True, "validity": True, "status": True, "holder": True}
    assert result.title == "AlumniCredential: Génie civil, Master, 2018"
    assert result.subject[0] == ("subject_name", "Alice Martin")
    assert ("organisation", "École Test") in result.subject and ("class_year", "2018") in result.subject


def test_v1_credential_changed_after_signing_is_not_verified(live_node):
    school = live_node()
    credential = _signed(school)
    credential["credentialSubject"]["alumniOf"]["classYear"] = 2008
    [result] = _verify(school, [credential])
    assert not result.verified and _checks(result)["signature"] is False


def test_v8_credential_of_another_organisation_is_not_taken_for_the_networks(live_node):
    school, other = live_node(), live_node()
    [foreign] = _verify(school, [_signed(other)])  # genuine, but from another node than the one signed in with
    assert not foreign.verified
    assert _checks(foreign)["issuer"] is False and _checks(foreign)["signature"] is False
    [forged] = _verify(school, [_signed(other, issuer_of=school)])  # claims the school, signed by another key
    assert not forged.verified
    assert _checks(forged)["issuer"] is True and _checks(forged)["signature"] is False


def test_v9_expired_credential_is_not_verified(live_node):
    school = live_node()
    [result] = _verify(school, [_signed(school, valid_until=NOW - timedelta(hours=1))])
    assert not result.verified
    assert _checks(result) == {"issuer": True, "signature": True, "validity": False, "status": True, "holder": True}


def test_s2_status_that_cannot_be_read_is_unknown_never_valid(live_node):
    school = live_node()
    entry = status_list_entry(list_credential="https://elsewhere.example/status/1", index=7, purpose="revocation")
    [result] = _verify(school, [_signed(school, status=[entry])])
    assert not result.verified
    assert _checks(result)["signature"] is True and _checks(result)["status"] is None


def test_malformed_credentials_are_reported_not_raised(live_node):
    school = live_node()
    assert not _verify(school, {"not": "a list"})[0].verified
    assert [r.verified for r in _verify(school, ["a string", {"@context": "x"}])] == [False, False]


def test_credential_the_node_issued_to_another_member_is_not_verified_for_this_one(live_node):
    school = live_node()
    [alices] = holding_a_credential(school)[1]
    [brunos] = holding_a_credential(school, email="bruno@ecole.example", given_name="Bruno", family_name="Durand")[1]
    [other] = _verify(school, [brunos], member_name="Alice Martin")
    assert not other.verified and other.state == NOT_VERIFIED
    # Genuine in every other respect: only the holder check tells it is not hers.
    assert _checks(other) == {"issuer": True, "signature": True, "validity": True, "status": True, "holder": False}
    holder = next(c for c in other.checks if c.name == "holder")
    assert holder.detail.key == "detail.holder_other" and holder.detail.values["subject"] == "Bruno Durand"
    assert other.subject[0] == ("subject_name", "Bruno Durand")  # the page says whom it is about
    [own] = _verify(school, [alices], member_name="Alice Martin")
    assert own.verified and own.state == VERIFIED
    [spaced] = _verify(school, [alices], member_name="  alice   MARTIN ")  # read as a person reads a name
    assert spaced.verified


def test_genuine_credential_is_unmatched_not_verified_when_the_members_name_was_not_shared(live_node):
    school = live_node()
    [credential] = holding_a_credential(school)[1]
    [result] = _verify(school, [credential], member_name=None)
    assert not result.verified and result.state == UNMATCHED
    assert _checks(result) == {"issuer": True, "signature": True, "validity": True, "status": True, "holder": None}
    # An unknown status too is not "genuine": the credential is then simply not verified.
    entry = status_list_entry(list_credential="https://elsewhere.example/status/1", index=7, purpose="revocation")
    [unknown] = _verify(school, [_signed(school, status=[entry])], member_name=None)
    assert unknown.state == NOT_VERIFIED


def test_credential_that_names_no_subject_is_no_ones():
    assert _holder({"credentialSubject": {"type": "Person"}}, "Alice Martin").ok is False
    assert _holder({"credentialSubject": [{"name": "Alice Martin"}]}, "Alice Martin").ok is False


def test_the_members_name_is_the_name_claim_else_both_name_parts():
    assert holder_name({"name": "Alice Martin", "given_name": "A"}) == "Alice Martin"
    assert holder_name({"given_name": "Alice", "family_name": "Martin"}) == "Alice Martin"
    assert holder_name({"given_name": "Alice"}) is None  # half a name cannot tell two members apart
    assert holder_name({}, {"name": "Alice Martin"}) == "Alice Martin"  # UserInfo first, then the ID token
    assert holder_name({"sub": "x"}, {}) is None
