"""JSON-LD that pyld would silently change is refused, so every shown member is signed (jsonld.js safe mode)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from credentials.errors import ParsingError, UnsafeJsonLdError
from credentials.jsonld_canon import canonize, expand
from credentials.jsonld_loader import JsonLdLoader
from tests.credentials.di_support import TEST_LOADER, alumni_credential

V2 = "https://www.w3.org/ns/credentials/v2"


def v2_credential(**changes: Any) -> dict[str, Any]:
    """A credential with only the production VC 2.0 context (no @vocab catching undefined terms)."""
    document: dict[str, Any] = {
        "@context": [V2],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject"},
    }
    document.update(changes)
    return document


def refused(document: dict[str, Any], loader: JsonLdLoader | None = None) -> str:
    with pytest.raises(UnsafeJsonLdError) as caught:
        canonize(document, loader or JsonLdLoader())
    assert caught.value.code == "PARSING_ERROR"
    return str(caught.value)


def test_undefined_term_is_refused_not_dropped() -> None:
    assert "'foo'" in refused(v2_credential(credentialSubject={"id": "did:example:s", "foo": "bar"}))


def test_reserved_keyword_lookalike_is_refused() -> None:
    refused(v2_credential(**{"@foo": "bar"}))


def test_relative_id_is_refused_not_resolved_against_example_base() -> None:
    # pyld's default base would turn "thing" into http://example.org/base/thing and sign that.
    message = refused(v2_credential(credentialSubject={"id": "thing", "name": "x"}))
    assert "example.org" not in message


def test_relative_type_is_refused() -> None:
    refused(v2_credential(type=["VerifiableCredential", "AlumniCredential"]))


def test_iri_with_a_space_is_refused() -> None:
    # pyld would silently drop every statement about <urn:a b>.
    refused(v2_credential(credentialSubject={"id": "urn:a b", "name": "x"}))


def test_iri_with_angle_bracket_is_refused() -> None:
    refused(v2_credential(credentialSubject={"id": "urn:a>b", "name": "x"}))


def test_keyword_shaped_id_is_a_parsing_error_not_a_crash() -> None:
    with pytest.raises(ParsingError):
        canonize(v2_credential(credentialSubject={"id": "@foo", "name": "x"}), JsonLdLoader())


def test_null_value_object_is_refused() -> None:
    refused(v2_credential(name={"@value": None}))


def test_language_without_value_is_refused() -> None:
    refused(v2_credential(name={"@language": "en"}))


def test_invalid_language_tag_is_refused() -> None:
    refused(v2_credential(name={"@value": "x", "@language": "not a tag"}))


def test_index_is_refused_because_it_is_not_signed() -> None:
    refused(v2_credential(credentialSubject={"id": "did:example:s", "@index": "unsigned"}))


def test_blank_node_property_is_refused() -> None:
    refused(v2_credential(credentialSubject={"id": "did:example:s", "_:p": "x"}))


def test_non_object_graph_member_is_refused() -> None:
    refused({"@context": [V2], "@graph": ["free-floating"]})


def test_protected_term_redefinition_is_a_parsing_error() -> None:
    # SECURITY V4: VC 1.1 after VC 2.0 redefines protected terms; pyld raises, we answer 400, never 500.
    with pytest.raises(ParsingError) as caught:
        canonize(v2_credential(**{"@context": [V2, "https://www.w3.org/2018/credentials/v1"]}), JsonLdLoader())
    assert "protected term redefinition" in str(caught.value)


def test_direction_is_signed_as_an_i18n_datatype() -> None:
    document = v2_credential(name={"@value": "مرحبا", "@language": "ar", "@direction": "rtl"})
    assert '"مرحبا"^^<https://www.w3.org/ns/i18n#ar_rtl>' in canonize(document, JsonLdLoader())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53 + 1, 1e20, 1e-7, -5e-324])
def test_numbers_other_implementations_read_differently_are_refused(value: float) -> None:
    refused(alumni_credential(credentialSubject={"id": "did:example:s", "count": value}), TEST_LOADER)


def test_integral_float_is_signed_as_the_integer_it_equals() -> None:
    # JSON-LD (and JavaScript) read 2.0 and 2 as the same number; pyld alone would write "2.0E0"^^xsd:double.
    as_float = canonize(alumni_credential(credentialSubject={"id": "did:example:s", "n": 2.0}), TEST_LOADER)
    as_int = canonize(alumni_credential(credentialSubject={"id": "did:example:s", "n": 2}), TEST_LOADER)
    assert as_float == as_int and '"2"^^<http://www.w3.org/2001/XMLSchema#integer>' in as_int


def test_lone_surrogate_is_refused() -> None:
    refused(alumni_credential(name="broken \ud800 text"), TEST_LOADER)


def test_deeply_nested_document_is_refused_fast() -> None:
    nested: dict[str, Any] = {"id": "did:example:s"}
    for _ in range(10_000):
        nested = {"alumniOf": nested}
    with pytest.raises(ParsingError):
        canonize(alumni_credential(credentialSubject=nested), TEST_LOADER)


def test_document_must_be_a_json_object() -> None:
    with pytest.raises(ParsingError):
        canonize([alumni_credential()], TEST_LOADER)  # type: ignore[arg-type]


def test_expand_applies_the_same_checks() -> None:
    with pytest.raises(UnsafeJsonLdError):
        expand(v2_credential(credentialSubject={"id": "did:example:s", "foo": "bar"}), JsonLdLoader())
    assert expand(v2_credential(), JsonLdLoader())[0]["@id"] == "urn:uuid:1"


def test_concurrent_canonicalization_gives_identical_results() -> None:
    documents = [alumni_credential(name=f"Credential {i}") for i in range(8)]
    expected = [canonize(document, TEST_LOADER) for document in documents]
    loader = JsonLdLoader(test_mode=True)
    results: dict[int, list[str]] = {}

    def work(worker: int) -> None:
        results[worker] = [canonize(document, loader) for document in documents for _ in range(5)][::5]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results.values())


def test_huge_array_is_refused_before_json_ld_processing() -> None:
    # SECURITY V12: 100,000 elements are refused by the input walk, before pyld expands anything.
    document = alumni_credential(credentialSubject={"id": "did:example:s", "tags": list(range(100_000))})
    start = time.perf_counter()
    with pytest.raises(UnsafeJsonLdError, match="too many values"):
        canonize(document, TEST_LOADER)
    assert time.perf_counter() - start < 2
