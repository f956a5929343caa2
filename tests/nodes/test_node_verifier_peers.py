"""The node's verifier against a peer that misbehaves (a scripted HTTP server on loopback, the node in development
mode): every answer is a named, failed check and never a server error or a "valid" (SECURITY D4, D5, S7, X9)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from credentials import keys
from credentials.data_integrity import create_proof
from credentials.did_web import did_document
from credentials.jsonld_loader import JsonLdLoader
from credentials.status import Bitstring, status_list_credential, status_list_entry
from nodes.verification import verify_credential_for
from tests.nodes.credential_support import context
from tests.nodes.scripted_server import ScriptedServer, answer, redirect

LOADER = JsonLdLoader()
NOW = datetime.now(UTC).replace(microsecond=0)
V2 = "https://www.w3.org/ns/credentials/v2"


@pytest.fixture
def peer():
    server = ScriptedServer().start()
    yield server
    server.stop()


class Peer:
    """An issuer served by the scripted server: its key, DID, and signed documents."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server, self.key = server, keys.generate("Ed25519")
        self.origin = f"http://localhost:{server.port}"
        self.did = f"did:web:localhost%3A{server.port}"
        self.document = did_document(self.did, [(self.key.kid, self.key.public_multikey())])

    def sign(self, document):
        return create_proof(document, key=self.key, verification_method=f"{self.did}#{self.key.kid}",
                            loader=LOADER, clock=lambda: NOW - timedelta(minutes=1))

    def credential(self, status: bool = False):
        entries = [status_list_entry(list_credential=f"{self.origin}/status/1", index=3, purpose="revocation")]
        return self.sign({"@context": [V2], "id": f"urn:uuid:{uuid.uuid4()}", "type": ["VerifiableCredential"],
                          "issuer": self.did, "validFrom": "2025-01-01T00:00:00Z",
                          "credentialSubject": {"id": "did:example:holder"},
                          **({"credentialStatus": entries} if status else {})})

    def serve_did(self, document=None, **kwargs):
        body = json.dumps(self.document if document is None else document).encode()
        self.server.routes["/.well-known/did.json"] = answer(body, **kwargs)


def _verify(make_node, peer_issuer, credential):
    verifier = context(make_node(trusted_issuers=[peer_issuer.did]))
    return verify_credential_for(verifier, credential)


def test_a_well_behaved_peer_issuer_verifies(make_node, peer):
    issuer = Peer(peer)
    issuer.serve_did()
    result = _verify(make_node, issuer, issuer.credential())
    assert result.verified, result.to_json()


@pytest.mark.parametrize("case", ["d4 another id", "d5 unbundled context", "d5 too large", "x9 html", "x9 not json",
                                  "x9 server error"])
def test_d4_d5_x9_a_bad_did_document_fails_the_issuer_key_check(make_node, peer, case):
    issuer = Peer(peer)
    if case == "d4 another id":
        issuer.serve_did({**issuer.document, "id": "did:web:evil.example"})
    elif case == "d5 unbundled context":
        issuer.serve_did({**issuer.document, "@context": [*issuer.document["@context"], "https://evil.example/c"]})
    elif case == "d5 too large":
        issuer.serve_did({**issuer.document, "padding": "x" * 300_000})
    elif case == "x9 html":
        peer.routes["/.well-known/did.json"] = answer(b"<html>hello</html>", content_type="text/html")
    elif case == "x9 not json":
        peer.routes["/.well-known/did.json"] = answer(b"{truncated", content_type="application/json")
    else:
        peer.routes["/.well-known/did.json"] = answer(b"{}", status="500 Internal Server Error")
    result = _verify(make_node, issuer, issuer.credential(status=True))
    assert result.check("issuer_key").outcome == "failed" and not result.verified
    assert result.status == "unknown"


def test_s7_status_list_redirecting_to_a_private_address_is_a_retrieval_error(make_node, peer):
    issuer = Peer(peer)
    issuer.serve_did()
    peer.routes["/status/1"] = redirect("http://169.254.169.254/latest/meta-data/")
    result = _verify(make_node, issuer, issuer.credential(status=True))
    status = result.check("status")
    assert status.outcome == "unknown" and status.code == "STATUS_RETRIEVAL_ERROR" and not result.verified
    assert [seen.path for seen in peer.seen if seen.path.startswith("/latest")] == []


def test_s2_status_list_signed_by_another_key_is_unknown_never_valid(make_node, peer):
    issuer = Peer(peer)
    issuer.serve_did()
    listed = status_list_credential(list_id=f"{issuer.origin}/status/1", issuer=issuer.did, purpose="revocation",
                                    bitstring=Bitstring.zeros(), valid_from=NOW - timedelta(days=1))
    other = keys.generate("Ed25519")
    forged = create_proof(listed, key=other, verification_method=f"{issuer.did}#{other.kid}", loader=LOADER,
                          clock=lambda: NOW)
    peer.routes["/status/1"] = answer(json.dumps(forged).encode())
    result = _verify(make_node, issuer, issuer.credential(status=True))
    assert result.check("status").code == "STATUS_VERIFICATION_ERROR" and result.status == "unknown"
