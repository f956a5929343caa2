"""Helpers shared by the Data Integrity tests: the W3C vector key, fixed clocks, a test-mode loader."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credentials import did_key
from credentials.data_integrity import Clock, create_proof
from credentials.jsonld_loader import JsonLdLoader
from credentials.keys import SigningKey, ed25519_from_seed
from credentials.multibase import decode_z

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "vc-di-eddsa"
RDF_CANON = ROOT / "tests" / "vectors" / "rdf-canon"
SHARED_CONTEXTS = ROOT.parent / "shared" / "contexts"
VECTOR_CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)

# One loader per mode for the whole test run, as the node keeps one: it owns the resolved-context cache.
TEST_LOADER = JsonLdLoader(test_mode=True)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def fixed_clock(moment: datetime = VECTOR_CREATED) -> Clock:
    return lambda: moment


def vector_key() -> SigningKey:
    """The W3C key pair of the vc-di-eddsa vectors; its private multikey is 0x8026 + the 32-byte seed."""
    private = decode_z(read_json(VECTORS / "keyPair.json")["privateKeyMultibase"])
    assert private[:2] == b"\x80\x26" and len(private) == 34
    return ed25519_from_seed(private[2:])


def method_of(key: SigningKey) -> str:
    return did_key.verification_method_id(did_key.did_key_for(key))


def alumni_credential(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the W3C unsigned alumni credential, with top-level members replaced."""
    document: dict[str, Any] = copy.deepcopy(read_json(VECTORS / "unsigned.json"))
    document.update(changes)
    return document


def sign(document: dict[str, Any], key: SigningKey | None = None, **options: Any) -> dict[str, Any]:
    key = key or vector_key()
    options.setdefault("clock", fixed_clock())
    return create_proof(document, key=key, verification_method=method_of(key), loader=TEST_LOADER, **options)
