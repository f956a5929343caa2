"""The offline JSON-LD loader: bundled contexts only, refused before any network I/O (SECURITY V3, V5)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pyld import jsonld

from credentials.errors import ContextNotAllowedError, ParsingError
from credentials.jsonld_canon import canonize, expand
from credentials.jsonld_loader import JsonLdLoader
from tests.credentials.di_support import alumni_credential

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def outbound() -> Iterator[list[Any]]:
    """Record (and block) every attempt to open a connection or resolve a name, and pyld's default loader."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"network I/O attempted: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr(jsonld, "_default_document_loader", refuse)
        yield attempts


def credential_with_context(*contexts: Any) -> dict[str, Any]:
    return alumni_credential(**{"@context": list(contexts)})


def test_loader_serves_a_bundled_context_tagged_static() -> None:
    document = JsonLdLoader()(V2)
    assert document["documentUrl"] == V2
    assert document["document"]["@context"]["@protected"] is True
    assert document["tag"] == "static"


def test_loader_refuses_an_unknown_url(outbound: list[Any]) -> None:
    with pytest.raises(ContextNotAllowedError):
        JsonLdLoader()("https://example.com/context.jsonld")
    assert outbound == []


def test_metadata_address_context_is_refused_before_any_network_io(outbound: list[Any]) -> None:
    loader = JsonLdLoader(test_mode=True)
    with pytest.raises(ContextNotAllowedError) as caught:
        canonize(credential_with_context(V2, METADATA), loader)
    assert caught.value.code == "PARSING_ERROR"
    assert outbound == []


def test_unknown_context_is_refused_even_if_the_precheck_is_bypassed(outbound: list[Any]) -> None:
    # The loader is a second wall: pyld calling it directly with an unknown URL still gets our typed error.
    loader = JsonLdLoader()
    with pytest.raises(jsonld.JsonLdError) as caught:
        jsonld.expand({"@context": METADATA, "name": "x"}, loader.pyld_options())
    assert isinstance(caught.value.__cause__, ContextNotAllowedError)
    assert outbound == []


def test_inline_context_object_is_refused(outbound: list[Any]) -> None:
    with pytest.raises(ContextNotAllowedError):
        canonize(credential_with_context(V2, {"name": "https://evil.example/name"}), JsonLdLoader(test_mode=True))
    assert outbound == []


def test_null_context_is_refused() -> None:
    with pytest.raises(ContextNotAllowedError):
        canonize(credential_with_context(V2, None), JsonLdLoader(test_mode=True))


def test_nested_context_is_checked_too(outbound: list[Any]) -> None:
    document = alumni_credential(credentialSubject={"@context": METADATA, "id": "did:example:1"})
    with pytest.raises(ContextNotAllowedError):
        canonize(document, JsonLdLoader(test_mode=True))
    assert outbound == []


def test_examples_context_is_refused_in_production_mode() -> None:
    with pytest.raises(ContextNotAllowedError):
        canonize(alumni_credential(), JsonLdLoader())


def test_production_loader_does_not_inherit_the_test_loaders_cache() -> None:
    test_loader, production = JsonLdLoader(test_mode=True), JsonLdLoader()
    canonize(alumni_credential(), test_loader)
    with pytest.raises(ParsingError):
        expand({"@context": [V2, EXAMPLES], "type": "VerifiableCredential"}, production)
    # Even handed to pyld directly, past our precheck, the production loader refuses the cached test context.
    with pytest.raises(jsonld.JsonLdError):
        jsonld.expand({"@context": [V2, EXAMPLES], "foo": "bar"}, production.pyld_options())


def test_pyld_global_context_cache_cannot_poison_our_loader() -> None:
    # Another loader in the same process serves a forged credentials/v2 through pyld's shared cache.
    forged = {"@context": {"name": "https://evil.example/name"}}

    def forging_loader(url: str, options: Any) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": forged, "tag": "static"}

    jsonld.expand({"@context": V2, "name": "x"}, {"documentLoader": forging_loader})
    expanded = expand({"@context": V2, "id": "urn:x", "name": "x"}, JsonLdLoader())
    assert "https://schema.org/name" in expanded[0]


def test_contexts_are_loaded_once_per_loader_then_served_from_its_cache() -> None:
    calls: list[str] = []

    class CountingLoader(JsonLdLoader):
        def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
            calls.append(url)
            return super().__call__(url, options)

    loader = CountingLoader(test_mode=True)
    first = canonize(alumni_credential(), loader)
    loaded_first = len(calls)
    assert canonize(alumni_credential(), loader) == first
    assert loaded_first == 2 and len(calls) == 2


def test_without_the_static_tag_pyld_would_load_every_context_on_every_call() -> None:
    # The counterpart of the test above: what the tag saves (timings are printed by bench/data_integrity.py).
    calls: list[str] = []

    class UntaggedLoader(JsonLdLoader):
        def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
            calls.append(url)
            document = super().__call__(url, options)
            del document["tag"]
            return document

    loader = UntaggedLoader(test_mode=True)
    assert canonize(alumni_credential(), loader) == canonize(alumni_credential(), JsonLdLoader(test_mode=True))
    canonize(alumni_credential(), loader)
    assert len(calls) == 4


def test_signing_and_verifying_never_reach_the_network_or_pyld_default_loader(outbound: list[Any]) -> None:
    from credentials import did_key
    from credentials.data_integrity import verify_proof
    from tests.credentials.di_support import fixed_clock, sign

    signed = sign(alumni_credential())
    verify_proof(
        signed,
        loader=JsonLdLoader(test_mode=True),
        resolve_key=did_key.resolve_verification_method,
        clock=fixed_clock(),
    )
    assert outbound == []
