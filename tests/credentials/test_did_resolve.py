"""did:web resolution: DID → URL mapping and the checks on the document (SECURITY D1, D3, D4, D5)."""

from __future__ import annotations

import pytest
from pyld import jsonld

from credentials.did_resolve import (
    DidNotFoundError,
    InvalidDidDocumentError,
    did_web_url,
    parse_did_document,
    resolve_did_web,
)
from credentials.did_web import did_document, did_from_base_url
from credentials.errors import InvalidDidError
from credentials.jsonld_loader import JsonLdLoader
from credentials.keys import generate

KEY = generate("Ed25519")


class Documents:
    """Serves DID documents by URL and records every URL asked for (a fetcher passed in, as the node does)."""

    def __init__(self, **by_url):
        self.by_url = by_url
        self.asked: list[str] = []

    def __call__(self, url):
        self.asked.append(url)
        if url not in self.by_url:
            raise LookupError("HTTP 404")
        return self.by_url[url]


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com%3a3000:user", "https://example.com:3000/user/did.json"),
        ("did:web:Example.COM", "https://example.com/.well-known/did.json"),
        ("did:web:xn--bcher-kva.example", "https://xn--bcher-kva.example/.well-known/did.json"),
        ("did:web:example.com:a%20b", "https://example.com/a%20b/did.json"),
    ],
)
def test_d3_did_web_maps_to_its_document_url(did, url):
    assert did_web_url(did) == url


def test_d3_a_port_is_only_the_percent_encoded_colon_a_plain_colon_starts_a_path():
    assert did_web_url("did:web:example.com%3A8443:user") == "https://example.com:8443/user/did.json"
    assert did_web_url("did:web:example.com:8443") == "https://example.com/8443/did.json"


@pytest.mark.parametrize(
    "did",
    [
        "did:web:127.0.0.1",
        "did:web:[::1]",
        "did:web:%5B%3A%3A1%5D",
        "did:web:169.254.169.254",
        "did:web:2130706433",
        "did:web:0x7f000001",
        "did:web:0177.0.0.1",
        "did:web:127.1",
        "did:web:10.0.0.1%3A8443",
    ],
)
def test_d1_did_web_with_an_ip_literal_is_invalid_did(did):
    documents = Documents()
    with pytest.raises(InvalidDidError) as caught:
        resolve_did_web(did, documents)
    assert caught.value.code == "invalidDid"
    assert documents.asked == []


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com:..",
        "did:web:example.com:.",
        "did:web:example.com:%2e%2e:admin",
        "did:web:example.com:user%2Fadmin",
        "did:web:example.com:user%2fadmin",
        "did:web:example.com%2Fadmin",
        "did:web:example.com::user",
        "did:web:example.com:",
        "did:web:",
        "did:web:example.com:user:",
        "did:web:example.com:a%00b",
        "did:web:example.com:a/b",
        "did:web:example.com:a?b",
        "did:web:example.com#key-1",
        "did:web:user@example.com",
        "did:web:example.com%3A0",
        "did:web:example.com%3A70000",
        "did:web:example.com%3Aabc",
        "did:web:-example.com",
        "did:web:exa_mple.com",
        "did:web:example.com.",
        "did:key:z6Mkabc",
        "did:web:" + "a" * 2100,
    ],
)
def test_d3_traversal_empty_segments_and_malformed_hosts_are_invalid_did(did):
    with pytest.raises(InvalidDidError):
        did_web_url(did)


def test_node_did_round_trips_to_its_base_url_in_dev_mode():
    did = did_from_base_url("http://localhost:8401")
    assert did == "did:web:localhost%3A8401"
    assert did_web_url(did, http_for_localhost=True) == "http://localhost:8401/.well-known/did.json"
    assert did_web_url(did) == "https://localhost:8401/.well-known/did.json"
    assert did_web_url("did:web:school.example", http_for_localhost=True).startswith("https://")


def test_resolution_returns_the_verification_methods_and_their_relationships():
    did = "did:web:school.example"
    documents = Documents(**{"https://school.example/.well-known/did.json": did_document(
        did, [("k1", KEY.public_multikey())])})
    resolved = resolve_did_web(did, documents)
    method = resolved.method("#k1")
    assert method.id == f"{did}#k1" and method.controller == did and method.type == "Multikey"
    assert method.public_key_multibase == KEY.public_multikey()
    assert resolved.assertion_method == {f"{did}#k1"} and resolved.authentication == {f"{did}#k1"}
    with pytest.raises(LookupError):
        resolved.method("#k2")


def test_d4_document_whose_id_is_another_did_is_rejected():
    documents = Documents(**{"https://school.example/.well-known/did.json": did_document(
        "did:web:attacker.example", [("k1", KEY.public_multikey())])})
    with pytest.raises(InvalidDidDocumentError, match="id is not did:web:school.example"):
        resolve_did_web("did:web:school.example", documents)


def test_a_fetch_failure_is_not_found_with_its_reason():
    with pytest.raises(DidNotFoundError, match="HTTP 404") as caught:
        resolve_did_web("did:web:school.example", Documents())
    assert caught.value.code == "notFound"


@pytest.mark.parametrize(
    "document",
    [
        ["not", "an", "object"],
        {"id": "did:web:school.example", "@context": "https://www.w3.org/ns/credentials/v2"},
        {"id": "did:web:school.example", "verificationMethod": {"id": "#k1"}},
        {"id": "did:web:school.example", "verificationMethod": ["#k1"]},
        {"id": "did:web:school.example", "verificationMethod": [{"id": "#k1", "type": "Multikey"}]},
        {"id": "did:web:school.example", "verificationMethod": [
            {"id": "#k1", "type": "Multikey", "controller": "did:web:school.example", "publicKeyMultibase": 7}]},
        {"id": "did:web:school.example", "verificationMethod": [
            {"id": "#k1", "type": "Multikey", "controller": "did:web:school.example"},
            {"id": "did:web:school.example#k1", "type": "Multikey", "controller": "did:web:school.example"}]},
        {"id": "did:web:school.example", "assertionMethod": "#k1"},
        {"id": "did:web:school.example", "assertionMethod": [""]},
    ],
)
def test_malformed_did_document_is_invalid_did_document(document):
    with pytest.raises(InvalidDidDocumentError):
        parse_did_document("did:web:school.example", document)


def test_a_plain_json_did_document_without_context_is_accepted():
    resolved = parse_did_document("did:web:school.example", {"id": "did:web:school.example",
                                                             "assertionMethod": ["#k1"]})
    assert resolved.assertion_method == {"did:web:school.example#k1"}


def _expand_with_bundled_contexts(document):
    loader = JsonLdLoader()
    loader.check_contexts(document)
    jsonld.expand(dict(document), loader.pyld_options())


def test_d5_did_document_with_a_context_that_is_not_bundled_fails_json_ld_processing():
    did = "did:web:school.example"
    document = did_document(did, [("k1", KEY.public_multikey())])
    document["@context"] = [*document["@context"], "http://169.254.169.254/context.jsonld"]
    with pytest.raises(InvalidDidDocumentError, match="JSON-LD"):
        parse_did_document(did, document, check_jsonld=_expand_with_bundled_contexts)


def test_our_own_did_document_passes_json_ld_processing_with_bundled_contexts():
    did = "did:web:school.example"
    document = did_document(did, [("k1", KEY.public_multikey())])
    assert parse_did_document(did, document, check_jsonld=_expand_with_bundled_contexts).methods
