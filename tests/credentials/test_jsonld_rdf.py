"""Expanded JSON-LD -> RDF: the same dataset as pyld's to_rdf, in linear time."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from credentials.errors import CanonicalizationLimitError, ParsingError, UnsafeJsonLdError
from credentials.jsonld_canon import canonize, expand
from credentials.jsonld_rdf import canonical_double, literal, to_quads
from credentials.nquads import RDF_LANGSTRING, Quad, Term
from credentials.rdfc import WorkBudget, canonicalize
from tests.credentials.di_support import TEST_LOADER, alumni_credential

CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"]
XSD = "http://www.w3.org/2001/XMLSchema#"
BUDGET = WorkBudget(work_factor=4)


def pyld_quads(expanded: list[Any]) -> list[Quad]:
    """pyld's own to_rdf of the same expanded document, as quads (the reference for these tests)."""
    dataset = jsonld.to_rdf(expanded, {**TEST_LOADER.pyld_options()})

    def term(node: dict[str, Any]) -> Term:
        if node["type"] == "IRI":
            return Term("iri", node["value"])
        if node["type"] == "blank node":
            return Term("blank", node["value"][2:])
        language = node.get("language", "") if node["datatype"] == RDF_LANGSTRING else ""
        return Term("literal", node["value"], node["datatype"], language)

    quads = []
    for name, triples in dataset.items():
        kind = "blank node" if name.startswith("_:") else "IRI"
        graph = None if name == "@default" else term({"type": kind, "value": name})
        quads += [Quad(term(t["subject"]), term(t["predicate"]), term(t["object"]), graph) for t in triples]
    return quads


def assert_same_dataset_as_pyld(document: dict[str, Any]) -> None:
    expanded = expand(document, TEST_LOADER)
    assert canonicalize(to_quads(expanded), budget=BUDGET) == canonicalize(pyld_quads(expanded), budget=BUDGET)


HAND_WRITTEN = {
    "lists": {"@context": CONTEXT, "id": "urn:x", "steps": {"@list": ["a", {"@list": [1, 2]}, {"name": "n"}, []]}},
    "empty-list": {"@context": CONTEXT, "id": "urn:x", "steps": {"@list": []}},
    "reverse": {"@context": CONTEXT, "id": "urn:x", "@reverse": {"memberOf": [{"id": "urn:y"}, {"name": "z"}]}},
    "included": {"@context": CONTEXT, "id": "urn:x", "name": "x", "@included": [{"id": "urn:y", "name": "y"}]},
    "named-graphs": {"@context": CONTEXT, "id": "urn:g", "@graph": [{"id": "urn:a", "knows": {"id": "_:b"}}]},
    "blank-graph": {"@context": CONTEXT, "holds": {"@graph": {"id": "_:b", "name": "inside"}}},
    "shared-labels": {
        "@context": CONTEXT, "@graph": [{"id": "_:a", "knows": {"id": "_:b"}}, {"id": "_:b", "name": "b"}]
    },
    "typed-values": {
        "@context": CONTEXT,
        "id": "urn:x",
        "a": {"@value": "1.50", "@type": XSD + "double"},
        "b": {"@value": 7, "@type": XSD + "double"},
        "c": {"@value": 2.5, "@type": XSD + "integer"},
        "d": {"@value": True, "@type": XSD + "string"},
        "e": {"@value": 12, "@type": XSD + "decimal"},
        "f": {"@value": "x", "@language": "fr-CA"},
        "g": {"@value": "x", "@language": "he", "@direction": "rtl"},
        "h": {"@value": "x", "@direction": "ltr"},
        "i": [1, 1.25, -3, 0, 1e20 // 1e10, False],
    },
    "json-literal": {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:x",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:i",
        "credentialSubject": {"id": "did:example:s"},
        "credentialSchema": {"id": "urn:schema", "type": "JsonSchema", "jsonSchema": {"b": [1, 2.5], "a": "é"}},
    },
    "type-blank-node": {"@context": CONTEXT, "id": "urn:x", "type": "_:t"},
    "w3c-vector": alumni_credential(),
}


@pytest.mark.parametrize("case", list(HAND_WRITTEN))
def test_same_dataset_as_pyld(case: str) -> None:
    assert_same_dataset_as_pyld(HAND_WRITTEN[case])


_keys = st.sampled_from(["name", "knows", "alumniOf", "degree", "count"])
_ids = st.sampled_from(["urn:x:1", "urn:x:2", "_:b1", "_:b2", "did:example:3"])
_scalars = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    st.integers(-1000, 1000),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda f: f == 0 or abs(f) >= 1e-6),
    st.booleans(),
    st.builds(lambda v, lang: {"@value": v, "@language": lang}, st.text(max_size=4), st.sampled_from(["en", "fr"])),
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    node = st.dictionaries(_keys, children, max_size=3)
    with_id = st.builds(lambda n, i: {**n, "id": i}, node, _ids)
    listed = st.builds(lambda items: {"@list": items}, st.lists(children, max_size=3))
    return st.one_of(node, with_id, listed, st.lists(children, max_size=3))


_values = st.recursive(_scalars, _objects, max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, min_size=1, max_size=4), st.none() | _ids)
def test_same_dataset_as_pyld_on_generated_documents(body: dict[str, Any], identifier: str | None) -> None:
    document = {"@context": CONTEXT, **body, **({"id": identifier} if identifier else {})}
    with contextlib.suppress(CanonicalizationLimitError, UnsafeJsonLdError):
        assert_same_dataset_as_pyld(document)


def test_long_arrays_take_linear_time() -> None:
    # pyld's node map needs n²/2 comparisons here: about 40 s for 10,000 items.
    document = alumni_credential(credentialSubject={"id": "did:example:s", "tags": [f"t{i}" for i in range(10_000)]})
    start = time.perf_counter()
    assert canonize(document, TEST_LOADER).count("examples#tags") == 10_000
    assert time.perf_counter() - start < 5


def test_free_floating_value_in_a_graph_is_refused() -> None:
    with pytest.raises(UnsafeJsonLdError):
        to_quads([{"@id": "urn:g", "@graph": [{"@value": "lost"}]}])


def test_double_written_as_a_string_must_be_a_plain_decimal() -> None:
    # Python's float() accepts "1_000" and "nan", JavaScript's parseFloat() reads them otherwise.
    for text in ("1_000", "nan", "inf", "0x10", " 1.5", "1e999"):
        with pytest.raises(UnsafeJsonLdError):
            literal({"@value": text, "@type": XSD + "double"})
    assert literal({"@value": "-.5e3", "@type": XSD + "double"}).value == "-5.0E2"


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.5E0"), (0.1, "1.0E-1"), (1e21, "1.0E21"), (123456.789, "1.23456789E5"), (-2.5e-5, "-2.5E-5")],
)
def test_canonical_double_matches_json_ld(value: float, text: str) -> None:
    assert canonical_double(value) == text


def test_non_scalar_value_is_refused() -> None:
    with pytest.raises(ParsingError):
        literal({"@value": {"nested": "object"}})
