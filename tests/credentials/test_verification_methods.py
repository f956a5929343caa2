"""Reading a verification method and its relationships out of a DID document (did:web documents)."""

from __future__ import annotations

from typing import Any

import pytest

from credentials import keys
from credentials.did_web import did_document
from credentials.errors import MalformedValueError
from credentials.verification_methods import from_did_document

DID = "did:web:school.example"


def document_with(key: keys.SigningKey) -> dict[str, Any]:
    return did_document(DID, [("key-1", key.public_multikey())])


def test_method_listed_under_assertion_method_is_authorized_for_it() -> None:
    key = keys.generate("Ed25519")
    method = from_did_document(document_with(key), f"{DID}#key-1")
    assert method.controller == DID
    assert method.relationships == {"assertionMethod", "authentication"}
    method.public_key.verify(key.sign(b"m"), b"m")


def test_method_only_defined_has_no_relationships() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["assertionMethod"] = []
    document["authentication"] = []
    assert from_did_document(document, f"{DID}#key-1").relationships == frozenset()


def test_relative_references_are_read_against_the_document_id() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["assertionMethod"] = ["#key-1"]
    assert "assertionMethod" in from_did_document(document, f"{DID}#key-1").relationships


def test_method_embedded_in_a_relationship_is_found() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["assertionMethod"] = document.pop("verificationMethod")
    assert from_did_document(document, f"{DID}#key-1").relationships == {"assertionMethod", "authentication"}


def test_method_of_another_did_is_refused() -> None:
    with pytest.raises(MalformedValueError):
        from_did_document(document_with(keys.generate("Ed25519")), "did:web:evil.example#key-1")


def test_missing_method_is_refused() -> None:
    with pytest.raises(MalformedValueError):
        from_did_document(document_with(keys.generate("Ed25519")), f"{DID}#key-2")


def test_method_controlled_by_someone_else_is_refused() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["verificationMethod"][0]["controller"] = "did:web:evil.example"
    with pytest.raises(MalformedValueError):
        from_did_document(document, f"{DID}#key-1")


def test_conflicting_definitions_are_refused() -> None:
    document = document_with(keys.generate("Ed25519"))
    other = dict(document["verificationMethod"][0], publicKeyMultibase=keys.generate("Ed25519").public_multikey())
    document["assertionMethod"] = [other]
    with pytest.raises(MalformedValueError):
        from_did_document(document, f"{DID}#key-1")


def test_non_multikey_method_is_refused() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["verificationMethod"][0]["type"] = "JsonWebKey2020"
    with pytest.raises(MalformedValueError):
        from_did_document(document, f"{DID}#key-1")


def test_non_ed25519_multikey_is_refused() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["verificationMethod"][0]["publicKeyMultibase"] = "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"
    with pytest.raises(MalformedValueError):
        from_did_document(document, f"{DID}#key-1")


def test_relationship_that_is_not_a_list_is_refused() -> None:
    document = document_with(keys.generate("Ed25519"))
    document["assertionMethod"] = f"{DID}#key-1"
    with pytest.raises(MalformedValueError):
        from_did_document(document, f"{DID}#key-1")
