"""One key resolver for did:key (local) and did:web (through the caller's fetcher, or the caller's own document)."""

from __future__ import annotations

import pytest

from credentials import did_key, keys
from credentials.did_web import did_document
from credentials.errors import CredentialError, InvalidDidError
from credentials.key_resolution import key_resolver

KEY = keys.generate("Ed25519")
DID = "did:web:school.example"
DOCUMENT = did_document(DID, [(KEY.kid, KEY.public_multikey())])


def test_did_key_resolves_without_fetching():
    calls = []
    method = key_resolver(calls.append)(did_key.verification_method_id(did_key.did_key_for(KEY)))
    method.public_key.verify(KEY.sign(b"data"), b"data")
    assert calls == []


def test_did_web_is_fetched_from_its_document_url():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return DOCUMENT

    method = key_resolver(fetch)(f"{DID}#{KEY.kid}")
    assert fetched == ["https://school.example/.well-known/did.json"] and method.controller == DID
    assert "assertionMethod" in method.relationships


def test_a_local_document_is_used_instead_of_fetching():
    def fetch(url):
        raise AssertionError("must not fetch")

    method = key_resolver(fetch, local=lambda did: DOCUMENT if did == DID else None)(f"{DID}#{KEY.kid}")
    assert method.controller == DID


@pytest.mark.parametrize("method_id", ["did:example:123#key", "did:web:school.example", "https://x.example#k",
                                       "did:web:127.0.0.1#k"])
def test_other_methods_bare_dids_and_ip_literals_are_refused_before_any_fetch(method_id):
    fetched = []
    with pytest.raises(CredentialError):
        key_resolver(fetched.append)(method_id)
    assert fetched == []


def test_did_web_needs_a_fetcher():
    with pytest.raises(InvalidDidError):
        key_resolver(None)(f"{DID}#{KEY.kid}")
