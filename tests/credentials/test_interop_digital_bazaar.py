"""Interop with an independent implementation: Digital Bazaar's vc / data-integrity / eddsa-rdfc-2022 (Node.js).

tests/interop/js/interop.mjs signs, verifies and canonicalizes with those libraries (versions pinned in its
package.json and package-lock.json) and a document loader that serves only schemas/contexts. The packages are
installed once with ``npm ci`` into tests/interop/js/node_modules. Skipped when node or npm is missing, except
under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from credentials import did_key, keys
from credentials.data_integrity import create_proof, verify_proof
from credentials.errors import CanonicalOrderError, ParsingError, ProofVerificationError, UnsafeJsonLdError
from credentials.jsonld_canon import canonize
from tests.credentials.di_support import ROOT, TEST_LOADER, VECTORS, alumni_credential, read_json

JS = ROOT / "tests" / "interop" / "js"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
V2 = "https://www.w3.org/ns/credentials/v2"
Run = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _install() -> None:
    marker = JS / "node_modules" / ".package-lock.json"
    # pytest-xdist workers install once, one at a time; the lock file lives outside the repository.
    with open(Path(tempfile.gettempdir()) / "passerelle-interop-js.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.stat().st_mtime >= (JS / "package-lock.json").stat().st_mtime:
            return
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=600, capture_output=True)


@pytest.fixture(scope="session")
def digital_bazaar() -> Run:
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required for the interop tests under CI")
        pytest.skip("node or npm is not installed")
    _install()

    def run(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            ["node", str(JS / "interop.mjs")],
            input=json.dumps({"requests": requests}),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
        return results

    return run


def holder() -> tuple[keys.SigningKey, bytes, str]:
    seed = os.urandom(32)
    key = keys.ed25519_from_seed(seed)
    return key, seed, did_key.did_key_for(key)


def our_sign(document: dict[str, Any], key: keys.SigningKey, **options: Any) -> dict[str, Any]:
    method = did_key.verification_method_id(did_key.did_key_for(key))
    return create_proof(document, key=key, verification_method=method, loader=TEST_LOADER, clock=lambda: NOW, **options)


def our_verify(document: dict[str, Any], **options: Any) -> Any:
    return verify_proof(
        document, loader=TEST_LOADER, resolve_key=did_key.resolve_verification_method, clock=lambda: NOW, **options
    )


def credential(issuer: str, **subject: Any) -> dict[str, Any]:
    return alumni_credential(issuer=issuer, credentialSubject=subject or {"alumniOf": "The School of Examples"})


CANONICAL_CASES = {
    "w3c-vector": read_json(VECTORS / "unsigned.json"),
    "blank-nodes": read_json(VECTORS / "passerelle" / "blank-nodes" / "unsigned.json"),
    "control-characters": read_json(VECTORS / "passerelle" / "control-characters" / "unsigned.json"),
    "numbers": alumni_credential(
        credentialSubject={"id": "did:example:s", "n": [1, 2.0, 1.5, 0.1, 1e21, -0.0, 123456.789, 9007199254740991]}
    ),
    "language-and-direction": alumni_credential(
        name={"@value": "مرحبا", "@language": "ar-EG", "@direction": "rtl"},
        description={"@value": "Hello", "@language": "en-GB"},
    ),
    "self-loop": alumni_credential(credentialSubject={"id": "_:me", "knows": {"id": "_:me"}}),
    "identical-siblings": alumni_credential(credentialSubject=[{"name": "x"}, {"name": "x"}, {"name": "y"}]),
    "unicode": alumni_credential(name="Zoë 😀 北京", description="\u00a0nbsp and \u2028 separator"),
    "presentation-with-graphs": {
        "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [read_json(VECTORS / "eddsa-rdfc-2022" / "signedDataInt.json")],
    },
}


@pytest.fixture(scope="module")
def their_canonical_forms(digital_bazaar: Run) -> dict[str, dict[str, Any]]:
    results = digital_bazaar([{"op": "canonize", "document": doc} for doc in CANONICAL_CASES.values()])
    return dict(zip(CANONICAL_CASES, results, strict=True))


@pytest.mark.parametrize("case", list(CANONICAL_CASES))
def test_canonical_forms_agree_with_digital_bazaar(case: str, their_canonical_forms: dict[str, Any]) -> None:
    assert "error" not in their_canonical_forms[case], their_canonical_forms[case]
    assert canonize(CANONICAL_CASES[case], TEST_LOADER) == their_canonical_forms[case]["nquads"]


def test_our_signatures_verify_in_digital_bazaar(digital_bazaar: Run) -> None:
    key, _seed, did = holder()
    documents = [
        our_sign(credential(did), key),
        our_sign(credential(did, alumniOf={"name": "École"}, note="bell\u0007 nul\u0000 del\u007f"), key),
        our_sign(read_json(VECTORS / "passerelle" / "blank-nodes" / "unsigned.json") | {"issuer": did}, key),
    ]
    presentation = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": did,
        "verifiableCredential": [documents[0]],
    }
    signed_presentation = our_sign(
        presentation, key, proof_purpose="authentication", challenge="c-1", domain="verifier.example"
    )
    requests = [{"op": "verify", "document": doc, "now": NOW.isoformat()} for doc in documents]
    requests.append(
        {
            "op": "verify",
            "document": signed_presentation,
            "challenge": "c-1",
            "domain": "verifier.example",
            "now": NOW.isoformat(),
        }
    )
    for result in digital_bazaar(requests):
        assert result == {"verified": True}


def test_digital_bazaar_signatures_verify_here_and_equal_ours(digital_bazaar: Run) -> None:
    key, seed, did = holder()
    unsigned = credential(did, alumniOf={"name": "École"}, note="tab\t form feed\f")
    presentation = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": did}
    theirs, their_presentation = digital_bazaar(
        [
            {"op": "sign", "document": unsigned, "seed": seed.hex(), "created": "2025-06-01T12:00:00Z"},
            {
                "op": "sign",
                "document": presentation,
                "seed": seed.hex(),
                "created": "2025-06-01T12:00:00Z",
                "challenge": "c-2",
                "domain": "verifier.example",
            },
        ]
    )
    signed = theirs["document"]
    assert our_verify(signed, expected_controller=did).controller == did
    # Ed25519 is deterministic: the same document, key and options give the same proof value.
    assert signed["proof"]["proofValue"] == our_sign(unsigned, key)["proof"]["proofValue"]
    our_verify(
        their_presentation["document"],
        expected_purpose="authentication",
        challenge="c-2",
        domain="verifier.example",
        expected_controller=did,
    )


def test_tampering_is_caught_on_both_sides(digital_bazaar: Run) -> None:
    key, seed, did = holder()
    ours = our_sign(credential(did), key)
    [theirs] = digital_bazaar([{"op": "sign", "document": credential(did), "seed": seed.hex()}])
    for document in (ours, theirs["document"]):
        document["credentialSubject"]["alumniOf"] = "The School of Counterfeits"
        with pytest.raises(ProofVerificationError):
            our_verify(document)
    results = digital_bazaar(
        [{"op": "verify", "document": d, "now": NOW.isoformat()} for d in (ours, theirs["document"])]
    )
    assert [result["verified"] for result in results] == [False, False]


def test_both_refuse_what_json_ld_would_drop(digital_bazaar: Run) -> None:
    undefined = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:1",
        "credentialSubject": {"foo": "bar"},
    }
    relative = {
        "@context": [V2],
        "id": "relative",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:1",
        "credentialSubject": {"id": "did:example:2"},
    }
    for document, result in zip(
        (undefined, relative),
        digital_bazaar([{"op": "canonize", "document": d} for d in (undefined, relative)]),
        strict=True,
    ):
        assert "Safe mode" in result["error"]
        with pytest.raises(UnsafeJsonLdError):
            canonize(document, TEST_LOADER)


def test_orders_rdf_canonize_sorts_differently_are_refused_here(digital_bazaar: Run) -> None:
    # rdf-canonize sorts by UTF-16 code units, RDFC-1.0 by code points: U+1F600 and U+FF5E swap places.
    document = alumni_credential(credentialSubject={"id": "did:example:s", "mood": ["\U0001f600", "～"]})
    [result] = digital_bazaar([{"op": "canonize", "document": document}])
    assert result["nquads"].index("😀") < result["nquads"].index("～")
    with pytest.raises(CanonicalOrderError):
        canonize(document, TEST_LOADER)


def test_tiny_numbers_rdf_canonize_writes_as_zero_are_refused_here(digital_bazaar: Run) -> None:
    document = alumni_credential(credentialSubject={"id": "did:example:s", "n": 1e-7})
    [result] = digital_bazaar([{"op": "canonize", "document": document}])
    assert '"0"^^<http://www.w3.org/2001/XMLSchema#integer>' in result["nquads"]
    with pytest.raises(ParsingError):
        canonize(document, TEST_LOADER)


def test_digital_bazaar_loader_refuses_unbundled_contexts(digital_bazaar: Run) -> None:
    document = alumni_credential(**{"@context": [V2, "http://169.254.169.254/latest/meta-data/"]})
    [result] = digital_bazaar([{"op": "canonize", "document": document}])
    assert "refusing to load" in result["error"]
