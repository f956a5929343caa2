"""A credential issued by a live node verifies in Digital Bazaar's JavaScript stack (vc 7, data-integrity,
eddsa-rdfc-2022), with the node's did:web document and status lists fetched from the node over HTTP; once the node
revokes it, the JavaScript verifier reads the bit and refuses it too."""

from __future__ import annotations

from typing import Any

from nodes.credential_states import change_state
from tests.credentials.test_interop_digital_bazaar import Run, digital_bazaar  # noqa: F401  (the fixture)
from tests.e2e.admin_browsing import node_context
from tests.e2e.vc_support import issuer


def _their_verdict(run: Run, live: Any, credential: dict[str, Any]) -> dict[str, Any]:
    did = node_context(live).did
    with live.client() as client:
        did_document = client.get("/.well-known/did.json").json()
        lists = {entry["statusListCredential"]: client.get(entry["statusListCredential"]).json()
                 for entry in credential["credentialStatus"]}
    [result] = run([{"op": "verify", "document": credential, "didDocuments": {did: did_document},
                     "statusLists": lists}])
    return result


def test_credential_issued_by_a_node_verifies_in_digital_bazaar_until_it_is_revoked(live_node, digital_bazaar):  # noqa: F811
    school = issuer(live_node)
    credential = school.issue()
    verdict = _their_verdict(digital_bazaar, school.live, credential)
    assert verdict.get("verified") is True, verdict
    change_state(node_context(school.live), credential["id"], "revoke", "degree withdrawn", actor="test")
    revoked = _their_verdict(digital_bazaar, school.live, credential)
    assert revoked.get("verified") is False and "revocation" in revoked.get("error", ""), revoked


def test_a_changed_node_credential_fails_in_digital_bazaar_too(live_node, digital_bazaar):  # noqa: F811
    school = issuer(live_node)
    credential = school.issue()
    credential["credentialSubject"]["alumniOf"]["classYear"] = 1999
    assert _their_verdict(digital_bazaar, school.live, credential).get("verified") is False


def test_an_affiliation_and_an_open_badge_issued_by_a_node_verify_in_digital_bazaar(live_node, digital_bazaar):  # noqa: F811
    from nodes.issuance import issue_affiliations
    from tests.nodes.credential_support import seed_alumni

    school = issuer(live_node)
    node = node_context(school.live)
    affiliations = seed_alumni(node, 1)
    issued = issue_affiliations(node, affiliations, actor="test").issued
    issued += issue_affiliations(node, affiliations, actor="test", open_badge=True).issued
    for row in issued:
        verdict = _their_verdict(digital_bazaar, school.live, row.document)
        assert verdict.get("verified") is True, (row.credential_type, verdict)
