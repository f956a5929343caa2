"""eddsa-rdfc-2022 costs: sign and verify the W3C alumni credential, the compiled path against the reference pipeline,
what pyld's context cache buys the reference pipeline, and how fast a poison graph is refused.

Prints milliseconds per operation (best of five rounds). Everything is offline: the bundled contexts and did:key.

    .venv/bin/python bench/data_integrity.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyld import jsonld  # noqa: E402

from credentials import did_key  # noqa: E402
from credentials.data_integrity import create_proof, verify_proof  # noqa: E402
from credentials.errors import CanonicalizationLimitError  # noqa: E402
from credentials.jsonld_canon import canonize, canonize_reference, expand  # noqa: E402
from credentials.jsonld_loader import JsonLdLoader  # noqa: E402
from credentials.keys import ed25519_from_seed  # noqa: E402
from credentials.multibase import decode_z  # noqa: E402

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "vc-di-eddsa"
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


class UncachedLoader(JsonLdLoader):
    """The same loader without the ``static`` tag: pyld loads and processes every context on every call."""

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        document = super().__call__(url, options)
        del document["tag"]
        return document


def per_call_ms(action: Callable[[], object], rounds: int) -> float:
    action()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            action()
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds

    credential = json.loads((VECTORS / "unsigned.json").read_text())
    key = ed25519_from_seed(decode_z(json.loads((VECTORS / "keyPair.json").read_text())["privateKeyMultibase"])[2:])
    method = did_key.verification_method_id(did_key.did_key_for(key))
    cached, uncached = JsonLdLoader(test_mode=True), UncachedLoader(test_mode=True)

    def sign() -> dict[str, Any]:
        return create_proof(credential, key=key, verification_method=method, loader=cached, clock=lambda: CREATED)

    signed = sign()

    def verify() -> object:
        return verify_proof(
            signed, loader=cached, resolve_key=did_key.resolve_verification_method, clock=lambda: CREATED
        )

    pyld_options = {**cached.pyld_options(), "algorithm": "URDNA2015", "format": "application/n-quads"}
    rows = [
        ("sign (eddsa-rdfc-2022, W3C alumni credential)", per_call_ms(sign, rounds)),
        ("verify (same, did:key resolved locally)", per_call_ms(verify, rounds)),
        ("expand, contexts cached (static tag)", per_call_ms(lambda: expand(credential, cached), rounds)),
        ("expand, contexts re-processed each call", per_call_ms(lambda: expand(credential, uncached), rounds)),
        ("canonize, compiled path", per_call_ms(lambda: canonize(credential, cached), rounds)),
        ("canonize, reference pipeline, contexts cached", per_call_ms(
            lambda: canonize_reference(credential, cached), rounds)),
        ("canonize, reference pipeline, contexts re-processed each call", per_call_ms(
            lambda: canonize(credential, uncached), rounds)),
        (
            "pyld normalize URDNA2015 (reference, unsafe)",
            per_call_ms(lambda: jsonld.normalize(credential, pyld_options), rounds),
        ),
    ]
    nodes = [{"id": f"_:e{n}", "knows": [{"id": f"_:e{m}"} for m in range(10)]} for n in range(10)]
    poison = dict(credential, credentialSubject=nodes)
    start = time.perf_counter()
    try:
        canonize(poison, cached)
    except CanonicalizationLimitError:
        rows.append(("poison credential (10-node blank clique) refused after", (time.perf_counter() - start) * 1000))
    width = max(len(label) for label, _ in rows)
    for label, milliseconds in rows:
        print(f"{label:<{width}}  {milliseconds:8.2f} ms")


if __name__ == "__main__":
    main()
