"""The compiled JSON-LD path gives the reference path's bytes, or falls back and lets the reference decide.

The reference is ``canonize_reference`` (pyld expansion with the safety checks, our RDF walk, RDFC-1.0). For
every generated document: if the compiled path answers, the reference must give the same canonical N-Quads
(and must not refuse); and ``canonize`` (compiled, else reference) must always behave exactly as the reference
does, the same text or the same error. The named cases check that each construct the compiled path does not
model falls back, so that the safety rules keep their single implementation.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from credentials.affiliation import Affiliation, Organisation, affiliation_credential
from credentials.errors import (
    CanonicalizationLimitError,
    CanonicalOrderError,
    ContextNotAllowedError,
    ParsingError,
    UnsafeJsonLdError,
)
from credentials.jsonld_canon import (
    _table,
    canonize,
    canonize_compiled,
    canonize_proof_config,
    canonize_reference,
)
from credentials.jsonld_compiled import MAX_DEPTH, MAX_VALUES
from credentials.jsonld_frames import MAX_FRAMES, Fallback
from credentials.jsonld_loader import JsonLdLoader
from credentials.rdfc import WorkBudget
from credentials.status.documents import status_list_entry
from tests.credentials import jsonld_corpus
from tests.credentials.di_support import TEST_LOADER, VECTORS, alumni_credential, read_json
from tests.credentials.test_interop_digital_bazaar import Run, digital_bazaar  # noqa: F401 (fixture)

PRODUCTION_LOADER = JsonLdLoader()
V2, ALUMNI, EXAMPLES = jsonld_corpus.V2, jsonld_corpus.ALUMNI, jsonld_corpus.EXAMPLES
SCHOOL = Organisation("did:web:ecole.example", "École Exemple", "school")
COMPANY = Organisation("did:web:acme.example", "Acme", "company")
PROOF_CONFIG = {
    "@context": [V2, ALUMNI],
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "created": "2025-06-01T12:00:00Z",
    "verificationMethod": "did:web:ecole.example#key-1",
    "proofPurpose": "assertionMethod",
}


def compiled(document: Any, loader: JsonLdLoader = TEST_LOADER, budget: WorkBudget | None = None) -> str:
    """The compiled path alone (on a copy, so that a mutation would show); raises Fallback where it is not sure."""
    return canonize_compiled(copy.deepcopy(document), loader, budget=budget)


def outcome(call: Any) -> tuple[str, str]:
    try:
        return "text", call()
    except Exception as exc:  # the comparison is the point: same class, same reason
        return type(exc).__name__, str(exc)


def assert_agrees_with_reference(
    document: Any, loader: JsonLdLoader = TEST_LOADER, record: Callable[[str], None] = lambda _: None
) -> bool:
    """Check the contract above; True when the compiled path answered (``record`` notes which way it went)."""
    reference = outcome(lambda: canonize_reference(copy.deepcopy(document), loader))
    assert outcome(lambda: canonize(copy.deepcopy(document), loader)) == reference
    try:
        text = compiled(document, loader)
    except Fallback as exc:
        record(f"fell back: {str(exc)[:40]}")
        return False
    record("compiled")
    assert reference == ("text", text)
    return True


GENERATORS = {
    "credential": jsonld_corpus.credential,
    "scoped": jsonld_corpus.scoped_document,
    "wild": jsonld_corpus.wild_document,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.sampled_from(sorted(GENERATORS)), st.booleans())
def test_compiled_path_gives_the_reference_bytes_or_falls_back(rng: random.Random, kind: str, test: bool) -> None:
    assert_agrees_with_reference(GENERATORS[kind](rng), TEST_LOADER if test else PRODUCTION_LOADER, event)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_seeded_corpus_agrees_and_mostly_takes_the_compiled_path(kind: str) -> None:
    answered = sum(assert_agrees_with_reference(GENERATORS[kind](random.Random(seed))) for seed in range(300))
    # Not vacuous: valid credentials nearly all compile; even scoped and wild documents often do.
    assert answered >= {"credential": 210, "scoped": 60, "wild": 30}[kind]


def test_seeded_corpus_is_byte_identical_to_digital_bazaar(digital_bazaar: Run) -> None:  # noqa: F811
    # The same corpus as bench/credentials.py: our canonical form against rdf-canonize through jsonld.js.
    documents = [jsonld_corpus.credential(random.Random(seed)) for seed in range(150)]
    theirs = digital_bazaar([{"op": "canonize", "document": document} for document in documents])
    for document, result in zip(documents, theirs, strict=True):
        ours = outcome(lambda: canonize(document, TEST_LOADER))  # noqa: B023 (called at once)
        if ours[0] == "CanonicalOrderError":
            continue  # refused here by design where rdf-canonize's UTF-16 order differs (ADR 0010)
        assert ours == ("text", result.get("nquads", result.get("error"))), document


def affiliations() -> list[dict[str, Any]]:
    status = [
        status_list_entry(list_credential="https://ecole.example/status/1", index=94567, purpose="revocation"),
        status_list_entry(list_credential="https://ecole.example/status/2", index=94567, purpose="suspension"),
    ]
    school = Affiliation(organisation=SCHOOL, member_name="Camille Martin", programme="Cycle ingénieur",
                         degree="Diplôme d'ingénieur", class_year=2015, groups=("Promo 2015", "Bureau des élèves"))
    company = Affiliation(organisation=COMPANY, member_name="Zoë Ørsted", subject_id="did:key:z6Mkabc",
                          role="Data engineer", department="R&D", start_date=date(2015, 9, 1),
                          end_date=date(2021, 6, 30))
    moment = datetime(2025, 6, 1, tzinfo=UTC)
    return [
        affiliation_credential(affiliation, credential_id="urn:uuid:5a1f", valid_from=moment,
                               valid_until=datetime(2030, 1, 1, tzinfo=UTC) if status_ else None,
                               credential_status=status if status_ else ())
        for affiliation in (school, company) for status_ in (False, True)
    ]


def test_affiliation_credentials_and_proof_configurations_take_the_compiled_path() -> None:
    for document in [*affiliations(), read_json(VECTORS / "unsigned.json"), PROOF_CONFIG]:
        for loader in (TEST_LOADER, PRODUCTION_LOADER):
            if loader is PRODUCTION_LOADER and EXAMPLES in document["@context"]:
                continue
            assert compiled(document, loader) == canonize_reference(document, loader)


def test_w3c_vector_is_reproduced_by_the_compiled_path() -> None:
    expected = (VECTORS / "eddsa-rdfc-2022" / "canonDocDataInt.txt").read_text()
    assert compiled(read_json(VECTORS / "unsigned.json")) == expected


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"@context": [V2, ALUMNI], "credentialSubject": {"id": "did:example:s", "undefined": "x"}}, UnsafeJsonLdError),
        ({"id": "relative"}, UnsafeJsonLdError),
        ({"credentialSubject": {"id": "did:example:a b"}}, UnsafeJsonLdError),
        ({"@context": [V2, "https://evil.example/context"]}, ContextNotAllowedError),
        ({"@context": [V2, {"name": "https://evil.example/name"}]}, ContextNotAllowedError),
        ({"credentialSubject": {"@context": None, "name": "x"}}, ContextNotAllowedError),
        ({"@context": [V2, "https://www.w3.org/2018/credentials/v1"]}, ParsingError),
        ({"name": "\ud800"}, UnsafeJsonLdError),
        ({"credentialSubject": {"id": "did:example:s", "n": 1e-7}}, UnsafeJsonLdError),
        ({"credentialSubject": {"id": "did:example:s", "n": 2**60}}, UnsafeJsonLdError),
        ({"credentialSubject": {"id": "did:example:s", "n": float("nan")}}, UnsafeJsonLdError),
        ({"name": {"@value": None}}, UnsafeJsonLdError),
        ({"credentialSubject": {"id": "did:example:s", "mood": ["\U0001f600", "～"]}}, CanonicalOrderError),
        ({"credentialSubject": {"id": "@id"}}, UnsafeJsonLdError),
    ],
)
def test_what_the_reference_refuses_falls_back_and_is_refused(changes: dict[str, Any], error: type) -> None:
    document = alumni_credential(**changes)
    with pytest.raises(Fallback):
        compiled(document)
    with pytest.raises(error):
        canonize(document, TEST_LOADER)


def test_vocab_terms_and_types_compile_as_the_reference_expands_them() -> None:
    # examples/v2 (test mode only) maps every undefined term and type to an IRI through @vocab; the compiled
    # path expands keys with pyld's own IRI expansion, so it agrees, including next to scoped contexts.
    document = alumni_credential(
        type=["VerifiableCredential", "AlumniCredential", "cred:Thing"],
        credentialSubject={"id": "did:example:s", "naïve": "oui", "type": "Alumnus",
                           "https://schema.org/award": {"type": "BitstringStatusListEntry", "statusPurpose": "x"},
                           "alumniOf": {"name": "École", "knows": [{"id": "_:a"}, {"id": "_:a", "tags": [1, "2"]}]}},
    )
    assert compiled(document) == canonize_reference(document, TEST_LOADER)


def test_test_only_context_falls_back_and_is_refused_in_production() -> None:
    with pytest.raises(Fallback):
        compiled(alumni_credential(), PRODUCTION_LOADER)
    with pytest.raises(ContextNotAllowedError):
        canonize(alumni_credential(), PRODUCTION_LOADER)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": {"@value": "Diplôme", "@language": "fr"}},
        {"name": {"@value": "مرحبا", "@language": "ar", "@direction": "rtl"}},
        {"credentialSubject": {"id": "did:example:s", "@included": [{"id": "urn:y", "name": "y"}]}},
        {"credentialSubject": {"id": "did:example:s", "@reverse": {"knows": {"id": "urn:y"}}}},
        {"credentialSubject": {"id": "urn:g", "@graph": [{"id": "urn:a", "name": "a"}]}},
        {"credentialSubject": {"id": "did:example:s", "steps": {"@list": ["a", "b"]}}},
        {"credentialSubject": {"id": "did:example:s", "name": None}},
        {"credentialSubject": {"id": "did:example:s", "tags": [["nested"]]}},
        {"proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}},  # an @graph container
        {"credentialSchema": {"id": "urn:s", "type": "JsonSchema", "jsonSchema": {"type": "object"}}},  # @json
        {"credentialSubject": [{"name": "same"}, {"name": "same"}]},  # identical blank nodes: Hash N-Degree Quads
    ],
)
def test_constructs_the_compiled_path_does_not_model_fall_back_to_the_reference(changes: dict[str, Any]) -> None:
    document = alumni_credential(**changes)
    with pytest.raises(Fallback):
        compiled(document)
    assert outcome(lambda: canonize(document, TEST_LOADER)) == outcome(
        lambda: canonize_reference(document, TEST_LOADER)
    )


def test_size_and_depth_limits_hold_on_the_compiled_path() -> None:
    wide = alumni_credential(credentialSubject={"id": "did:example:s", "tags": list(range(MAX_VALUES + 1))})
    with pytest.raises(Fallback):
        compiled(wide)
    assert outcome(lambda: canonize(wide, TEST_LOADER)) == outcome(lambda: canonize_reference(wide, TEST_LOADER))
    many_types = alumni_credential(type=["VerifiableCredential"] + [f"T{n}" for n in range(60_000)])
    with pytest.raises(Fallback):
        compiled(many_types, budget=WorkBudget(max_quads=100_000))
    with pytest.raises(UnsafeJsonLdError, match="too many values"):
        canonize(many_types, TEST_LOADER, budget=WorkBudget(max_quads=100_000))
    nested: dict[str, Any] = {"name": "bottom"}
    for _ in range(MAX_DEPTH + 1):
        nested = {"knows": nested}
    with pytest.raises(Fallback):
        compiled(alumni_credential(credentialSubject=nested))
    for _ in range(60):
        nested = {"knows": nested}
    with pytest.raises(UnsafeJsonLdError, match="nests deeper"):
        canonize(alumni_credential(credentialSubject=nested), TEST_LOADER)


def test_statement_and_blank_node_budgets_still_refuse() -> None:
    document = alumni_credential()
    with pytest.raises(CanonicalizationLimitError):
        canonize(document, TEST_LOADER, budget=WorkBudget(max_quads=3))
    with pytest.raises(CanonicalizationLimitError):
        canonize(alumni_credential(credentialSubject={"name": "x"}), TEST_LOADER, budget=WorkBudget(max_blank_nodes=0))


def test_loaders_that_change_how_contexts_load_never_take_the_compiled_path() -> None:
    class CountingLoader(JsonLdLoader):
        def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
            return super().__call__(url, options)

    with pytest.raises(Fallback):
        canonize_compiled(alumni_credential(), CountingLoader(test_mode=True))
    assert canonize_compiled(alumni_credential(), JsonLdLoader(test_mode=True))


def test_documents_cannot_grow_the_context_memos_without_bound() -> None:
    loader = JsonLdLoader(test_mode=True)
    rng = random.Random(7)
    for count in range(45):
        node: dict[str, Any] = {"name": "bottom"}
        for level in range(20):  # every order of nested contexts is another chain of active contexts
            node = {"@context": [rng.choice([V2, ALUMNI])], "name": f"level {level}", "alumniOf": node}
        document = {"@context": [V2, ALUMNI], "id": "urn:x", "type": "Person", "alumniOf": node}
        text = canonize(document, loader)
        if count % 8 == 0:
            assert text == canonize_reference(document, loader)
    table = _table(loader)
    assert table is not None and len(table._frames) == MAX_FRAMES  # reached, and not exceeded


def test_proof_configurations_are_remembered_and_still_budgeted() -> None:
    loader = JsonLdLoader()
    expected = canonize_reference(PROOF_CONFIG, loader)
    assert canonize_proof_config(PROOF_CONFIG, loader) == expected
    assert canonize_proof_config(dict(reversed(PROOF_CONFIG.items())), loader) == expected
    with pytest.raises(CanonicalizationLimitError):
        canonize_proof_config(PROOF_CONFIG, loader, budget=WorkBudget(max_quads=2))
    other = PROOF_CONFIG | {"domain": ["a.example", "b.example"]}
    assert canonize_proof_config(other, loader) == canonize_reference(other, loader)
    assert canonize_proof_config(other | {"domain": "a.example"}, loader) != canonize_proof_config(other, loader)
    with pytest.raises(UnsafeJsonLdError):
        canonize_proof_config(PROOF_CONFIG | {"undefined": "x"}, loader)
    with pytest.raises(UnsafeJsonLdError):
        canonize_proof_config(PROOF_CONFIG | {"created": 1e-7}, loader)
