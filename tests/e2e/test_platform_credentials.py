"""Alumni Hub verifies the affiliation credentials it receives against the issuer's own DID document, over HTTP.

Credentials are signed here with a live node's real ``credentials`` key (as the node will sign them), and the
platform's verifier fetches that node's ``/.well-known/did.json``. A credential passes only when every check
passes: issuer, signature, validity period and status (an unreadable status is unknown, never valid).
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
from nodes.examples.platform.credential_check import same_origin_fetcher, verify_received

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


def _verify(live, received):
    with httpx.Client(timeout=5) as client:
        fetch = same_origin_fetcher(live.url, client)
        return verify_received(received, live.url, fetch, LOADER, http_for_localhost=True)


def _checks(result):
    return {check.name: check.ok for check in result.checks}


def test_credential_signed_by_the_network_verifies_with_every_check_named(live_node):
    school = live_node()
    [result] = _verify(school, [_signed(school)])
    assert result.verified
    assert _checks(result) == {"issuer": True, "signature": True, "validity": True, "status": True}
    assert result.title == "AlumniCredential: Génie civil, Master, 2018"


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
    assert _checks(result) == {"issuer": True, "signature": True, "validity": False, "status": True}


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
