"""eddsa-rdfc-2022 known answers: the W3C vectors byte for byte, and our own blank-node and control-character ones.

Our own vectors (tests/vectors/vc-di-eddsa/passerelle) were produced by Digital Bazaar's implementation, so
matching them is agreement with an independent implementation, not with ourselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld

from credentials import did_key
from credentials.data_integrity import hash_data, verify_proof
from credentials.data_integrity.eddsa_rdfc_2022 import proof_value
from credentials.multibase import decode_z
from tests.credentials.di_support import TEST_LOADER, VECTORS, fixed_clock, read_json, sign, vector_key

W3C = VECTORS / "eddsa-rdfc-2022"
OURS = VECTORS / "passerelle"
OWN_CASES = sorted(path.name for path in OURS.iterdir() if (path / "unsigned.json").exists())


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def w3c_hash_data() -> Any:
    return hash_data(read_json(VECTORS / "unsigned.json"), read_json(W3C / "proofConfigDataInt.json"), TEST_LOADER)


def test_w3c_key_pair_decodes_to_its_public_multikey() -> None:
    assert vector_key().public_multikey() == read_json(VECTORS / "keyPair.json")["publicKeyMultibase"]


def test_w3c_canonical_document_matches_byte_for_byte() -> None:
    assert w3c_hash_data().canonical_document == text(W3C / "canonDocDataInt.txt")


def test_w3c_proof_configuration_canonical_form_matches_byte_for_byte() -> None:
    assert w3c_hash_data().canonical_proof_config == text(W3C / "proofCanonDataInt.txt")


def test_w3c_hashes_match() -> None:
    data = w3c_hash_data()
    assert data.document_hash.hex() == text(W3C / "docHashDataInt.txt").strip()
    assert data.proof_config_hash.hex() == text(W3C / "proofHashDataInt.txt").strip()
    assert data.combined.hex() == text(W3C / "combinedHashDataInt.txt").strip()


def test_w3c_signature_matches() -> None:
    value = proof_value(w3c_hash_data(), vector_key())
    assert value == text(W3C / "sigBTC58DataInt.txt").strip()
    assert decode_z(value).hex() == text(W3C / "sigHexDataInt.txt").strip()


def test_w3c_signed_document_matches_byte_for_byte() -> None:
    signed = sign(read_json(VECTORS / "unsigned.json"))
    assert json.dumps(signed, indent=2) == text(W3C / "signedDataInt.json")


def test_w3c_signed_document_verifies() -> None:
    result = verify_proof(
        read_json(W3C / "signedDataInt.json"),
        loader=TEST_LOADER,
        resolve_key=did_key.resolve_verification_method,
        clock=fixed_clock(),
    )
    assert result.controller == "did:key:" + read_json(VECTORS / "keyPair.json")["publicKeyMultibase"]


@pytest.mark.parametrize("case", OWN_CASES)
def test_own_vector_canonical_forms_and_hashes_match(case: str) -> None:
    folder = OURS / case
    data = hash_data(read_json(folder / "unsigned.json"), read_json(folder / "proofConfig.json"), TEST_LOADER)
    assert data.canonical_document == text(folder / "canonDoc.txt")
    assert data.canonical_proof_config == text(folder / "proofCanon.txt")
    assert data.document_hash.hex() == text(folder / "docHash.txt")
    assert data.proof_config_hash.hex() == text(folder / "proofHash.txt")


@pytest.mark.parametrize("case", OWN_CASES)
def test_own_vector_signature_matches(case: str) -> None:
    signed = sign(read_json(OURS / case / "unsigned.json"))
    assert signed["proof"]["proofValue"] == text(OURS / case / "sigBTC58.txt")
    theirs = read_json(OURS / case / "signed.json")
    assert signed["proof"] == {name: theirs["proof"][name] for name in signed["proof"]}
    unsigned = {name: value for name, value in signed.items() if name != "proof"}
    assert unsigned == read_json(OURS / case / "unsigned.json")


@pytest.mark.parametrize("case", OWN_CASES)
def test_own_vector_signed_by_digital_bazaar_verifies(case: str) -> None:
    verify_proof(
        read_json(OURS / case / "signed.json"),
        loader=TEST_LOADER,
        resolve_key=did_key.resolve_verification_method,
        clock=fixed_clock(),
    )


def test_blank_node_vector_has_a_subject_without_id() -> None:
    unsigned = read_json(OURS / "blank-nodes" / "unsigned.json")
    assert "id" not in unsigned["credentialSubject"]
    assert "_:c14n" in text(OURS / "blank-nodes" / "canonDoc.txt")


def test_algorithm_choice_matters_for_the_blank_node_vector() -> None:
    # pyld's normalize() defaults to URGNA2012; only URDNA2015 (= RDFC-1.0 here) gives the canonical form.
    unsigned = read_json(OURS / "blank-nodes" / "unsigned.json")
    options = {**TEST_LOADER.pyld_options(), "format": "application/n-quads"}
    expected = text(OURS / "blank-nodes" / "canonDoc.txt")
    assert jsonld.normalize(unsigned, {**options, "algorithm": "URDNA2015"}) == expected
    assert jsonld.normalize(unsigned, options) != expected


def test_w3c_vector_alone_cannot_tell_the_algorithms_apart() -> None:
    # Which is why the blank-node vector exists: without blank nodes both algorithms agree.
    options = {**TEST_LOADER.pyld_options(), "format": "application/n-quads"}
    unsigned = read_json(VECTORS / "unsigned.json")
    assert jsonld.normalize(unsigned, options) == jsonld.normalize(unsigned, {**options, "algorithm": "URDNA2015"})


def test_control_character_vector_differs_from_pyld_escaping() -> None:
    unsigned = read_json(OURS / "control-characters" / "unsigned.json")
    options = {**TEST_LOADER.pyld_options(), "format": "application/n-quads", "algorithm": "URDNA2015"}
    assert jsonld.normalize(unsigned, options) != text(OURS / "control-characters" / "canonDoc.txt")
