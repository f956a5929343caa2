"""The bundled JSON-LD contexts (schemas/contexts) and their loader."""

from __future__ import annotations

import hashlib
import json

import pytest

import schemas
from schemas import loader as schemas_loader
from tests.credentials.di_support import ROOT, SHARED_CONTEXTS

CONTEXTS = ROOT / "schemas" / "contexts"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
CORE = (
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/2018/credentials/v1",
    "https://w3id.org/security/data-integrity/v2",
    "https://w3id.org/security/multikey/v1",
    "https://www.w3.org/ns/did/v1",
    "https://www.w3.org/ns/credentials/status/v1",
)


def index() -> dict[str, dict[str, object]]:
    return json.loads((CONTEXTS / "index.json").read_text())


def test_index_hashes_match_the_bundled_files() -> None:
    for url, entry in index().items():
        data = (CONTEXTS / str(entry["file"])).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], url


@pytest.mark.skipif(not SHARED_CONTEXTS.exists(), reason="../shared/contexts is not present")
def test_w3c_contexts_are_verbatim_copies_of_the_shared_ones() -> None:
    shared = json.loads((SHARED_CONTEXTS / "index.json").read_text())
    for url in (*CORE, EXAMPLES_V2):
        assert index()[url]["sha256"] == shared[url]["sha256"], url
        ours = (CONTEXTS / str(index()[url]["file"])).read_bytes()
        assert ours == (SHARED_CONTEXTS / shared[url]["file"]).read_bytes()


def test_every_index_entry_names_its_source() -> None:
    for url, entry in index().items():
        assert entry.get("source"), url


def test_core_contexts_are_served_in_production() -> None:
    assert set(CORE) <= schemas.bundled_context_urls()
    assert schemas.load_context("https://www.w3.org/ns/credentials/v2")["@context"]["@protected"] is True


def test_examples_context_is_served_only_in_test_mode() -> None:
    assert EXAMPLES_V2 not in schemas.bundled_context_urls()
    assert EXAMPLES_V2 in schemas.bundled_context_urls(test_mode=True)
    with pytest.raises(schemas.UnknownContextError):
        schemas.load_context(EXAMPLES_V2)
    assert "@vocab" in schemas.load_context(EXAMPLES_V2, test_mode=True)["@context"]


def test_unknown_context_is_refused() -> None:
    with pytest.raises(schemas.UnknownContextError):
        schemas.load_context("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(schemas.UnknownContextError):
        schemas.context_entry("https://example.com/context")


def test_load_context_returns_a_fresh_copy_each_time() -> None:
    first = schemas.load_context("https://www.w3.org/ns/did/v1")
    first["@context"]["id"] = "mutated"
    assert schemas.load_context("https://www.w3.org/ns/did/v1")["@context"]["id"] == "@id"


def test_context_whose_bytes_changed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://www.w3.org/ns/did/v1"
    entry = schemas.context_entry(url)
    tampered = {url: schemas.ContextEntry(url, entry.file, entry.source, "0" * 64, False)}
    monkeypatch.setattr(schemas_loader, "_index", lambda: tampered)
    schemas_loader._verified_bytes.cache_clear()
    try:
        with pytest.raises(schemas.ContextIntegrityError):
            schemas.load_context(url)
    finally:
        schemas_loader._verified_bytes.cache_clear()
