"""eddsa-rdfc-2022 side by side, on one core: Passerelle's credentials room against Digital Bazaar's JavaScript stack.

In one run:
1. Signs and verifies three credentials with our stack (``create_proof`` / ``verify_proof``, did:key resolved
   locally) and with Digital Bazaar's (``vc.issue`` / ``vc.verifyCredential`` in ``tests/interop/js/bench.mjs``,
   a node subprocess that times itself): an ``AlumniCredential`` and an ``EmployeeAlumniCredential`` built with
   ``credentials/affiliation.py`` (with revocation and suspension status entries), and the W3C vc-di-eddsa
   vector credential. Both processes are pinned to the same CPU. Prints ms/op and ops/s (best of the rounds, each
   round N operations in a row after a warm-up of N) and the ratio JS time / our time against the targets
   (signing >= 3x, verification >= 1.5x). Our "distinct proof configurations" rows sign with a clock that moves
   one second per credential and verify more distinct credentials than the proof-configuration memo holds, so
   that memo never helps them; the plain rows reuse one configuration, as issuing a roster does.
2. Checks that both stacks produce the same signature bytes for the same credential, key and ``created``.
3. Canonicalizes a seeded corpus of random credentials (``tests/credentials/jsonld_corpus.py``: unicode, control
   characters, blank nodes, shared labels, identical siblings, arrays, nested objects, numbers, Open Badges) on
   both sides and compares the N-Quads byte for byte; prints "N/N identical" and how many documents our
   compiled path answered (the others went through the reference pipeline).

For context it also prints our reference pipeline (pyld expansion, what ``canonize_reference`` runs) and Ed25519
alone. Everything is offline (bundled contexts, did:key). Needs node and ``npm ci`` in ``tests/interop/js``.

    .venv/bin/python bench/credentials.py [--iterations 200] [--rounds 5] [--corpus 500] [--cpu 0] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credentials import did_key  # noqa: E402
from credentials.affiliation import Affiliation, Organisation, affiliation_credential  # noqa: E402
from credentials.data_integrity import create_proof, verify_proof  # noqa: E402
from credentials.jsonld_canon import canonize, canonize_compiled  # noqa: E402
from credentials.jsonld_frames import Fallback  # noqa: E402
from credentials.jsonld_loader import JsonLdLoader  # noqa: E402
from credentials.keys import ed25519_from_seed  # noqa: E402
from credentials.status.documents import status_list_entry  # noqa: E402
from tests.credentials.jsonld_corpus import credential as random_credential  # noqa: E402

JS = ROOT / "tests" / "interop" / "js"
VECTOR = ROOT / "tests" / "vectors" / "vc-di-eddsa" / "unsigned.json"
CREATED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW = CREATED + timedelta(days=1)
TARGETS = {"sign": 3.0, "verify": 1.5}


class ReferenceLoader(JsonLdLoader):
    """Loads contexts exactly as JsonLdLoader does; overriding ``__call__`` keeps it on the reference pipeline."""

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        return super().__call__(url, options)


def credentials(issuer: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """name -> (unsigned credential, needs the test-only examples context)."""
    status = [
        status_list_entry(list_credential="https://ecole.example/status/3", index=94567, purpose=purpose)
        for purpose in ("revocation", "suspension")
    ]
    school = Organisation(issuer, "École Exemple", "school")
    company = Organisation(issuer, "Acme Systèmes", "company")
    alumni = Affiliation(organisation=school, member_name="Camille Martin", programme="Cycle ingénieur",
                         degree="Diplôme d'ingénieur", class_year=2015, groups=("Promo 2015", "Bureau des élèves"))
    employee = Affiliation(organisation=company, member_name="Zoë Ørsted", subject_id="did:example:zoe",
                           role="Data engineer", department="R&D", start_date=date(2015, 9, 1),
                           end_date=date(2021, 6, 30))
    moment = datetime(2025, 1, 1, tzinfo=UTC)

    def build(affiliation: Affiliation) -> dict[str, Any]:
        return affiliation_credential(affiliation, credential_id="urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
                                      valid_from=moment, credential_status=status)

    vector = json.loads(VECTOR.read_text()) | {"issuer": issuer}
    return {
        "alumni (AlumniCredential)": (build(alumni), False),
        "employee (EmployeeAlumniCredential)": (build(employee), False),
        "W3C vector (AlumniCredential)": (vector, True),
    }


def rounds_ms(action: Callable[[], object], iterations: int, rounds: int) -> list[float]:
    """Milliseconds per operation of each round (after a warm-up round), as bench.mjs measures."""
    for _ in range(iterations):
        action()
    found = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            action()
        found.append((time.perf_counter() - start) * 1000 / iterations)
    return found


def run_js(request: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(["node", str(JS / "bench.mjs")], input=json.dumps(request), capture_output=True,
                          text=True, check=False, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"bench.mjs failed (run `npm ci` in {JS}?):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure_ours(name: str, unsigned: dict[str, Any], loaders: tuple[JsonLdLoader, JsonLdLoader], key: Any,
                 method: str, issuer: str, iterations: int, rounds: int) -> dict[str, list[float]]:
    loader, reference = loaders

    def sign(on: JsonLdLoader = loader, clock: Callable[[], datetime] = lambda: CREATED) -> dict[str, Any]:
        return create_proof(unsigned, key=key, verification_method=method, loader=on, clock=clock)

    def verify(document: dict[str, Any], on: JsonLdLoader = loader) -> object:
        return verify_proof(document, loader=on, resolve_key=did_key.resolve_verification_method,
                            clock=lambda: NOW, expected_controller=issuer)

    signed = sign()
    seconds = iter(range(10**9))
    moving = lambda: CREATED + timedelta(seconds=next(seconds))  # noqa: E731
    distinct = [sign(clock=moving) for _ in range(1_100)]  # more than the proof-configuration memo holds
    position = iter(range(10**9))
    return {
        "sign": rounds_ms(sign, iterations, rounds),
        "sign, distinct proof configurations": rounds_ms(lambda: sign(clock=moving), iterations, rounds),
        "verify": rounds_ms(lambda: verify(signed), iterations, rounds),
        "verify, distinct proof configurations": rounds_ms(
            lambda: verify(distinct[next(position) % len(distinct)]), iterations, rounds),
        "sign, reference pipeline (pyld)": rounds_ms(lambda: sign(on=reference), max(iterations // 4, 1), rounds),
        "verify, reference pipeline (pyld)": rounds_ms(
            lambda: verify(signed, on=reference), max(iterations // 4, 1), rounds),
    }


def corpus_check(documents: list[dict[str, Any]], theirs: list[dict[str, Any]], loader: JsonLdLoader) -> None:
    identical = compiled = 0
    differences = []
    for index, (document, result) in enumerate(zip(documents, theirs, strict=True)):
        try:
            ours: str | None = canonize(document, loader)
        except Exception as exc:  # reported below, with the JS outcome
            ours = None
            differences.append((index, f"refused here: {exc}", result))
        if ours is not None:
            if ours == result.get("nquads"):
                identical += 1
            else:
                differences.append((index, "different N-Quads", result))
            try:
                canonize_compiled(document, loader)
                compiled += 1
            except Fallback:
                pass
    print(f"\ndifferential corpus ({len(documents)} random credentials, seeded): our canonical N-Quads against "
          "jsonld.js + rdf-canonize")
    print(f"  {identical}/{len(documents)} identical "
          f"({compiled} through the compiled path, {identical - compiled} through the reference pipeline)")
    for index, what, result in differences[:5]:
        print(f"  document {index}: {what}; JS: {str(result)[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="operations per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (best is reported)")
    parser.add_argument("--corpus", type=int, default=500, help="random credentials in the differential corpus")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU both processes are pinned to")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})  # inherited by the node subprocess

    seed = bytes(range(32))
    key = ed25519_from_seed(seed)
    issuer = did_key.did_key_for(key)
    method = did_key.verification_method_id(issuer)
    cases = credentials(issuer)
    corpus = [random_credential(random.Random(args.seed * 1_000_003 + n)) for n in range(args.corpus)]
    request = {"seed": seed.hex(), "created": "2025-06-01T12:00:00Z", "now": NOW.isoformat(),
               "iterations": args.iterations, "rounds": args.rounds,
               "credentials": {name: unsigned for name, (unsigned, _) in cases.items()}, "corpus": corpus}
    load_before = os.getloadavg()[0]
    js = run_js(request)

    production, test = JsonLdLoader(), JsonLdLoader(test_mode=True)
    ours: dict[str, dict[str, list[float]]] = {}
    same_signature: dict[str, bool] = {}
    for name, (unsigned, test_only) in cases.items():
        loaders = (test, ReferenceLoader(test_mode=True)) if test_only else (production, ReferenceLoader())
        ours[name] = measure_ours(name, unsigned, loaders, key, method, issuer, args.iterations, args.rounds)
        signed = create_proof(unsigned, key=key, verification_method=method, loader=loaders[0], clock=lambda: CREATED)
        same_signature[name] = signed["proof"]["proofValue"] == js["signed"][name]["proof"]["proofValue"]

    ed = ed25519_from_seed(seed)
    public = did_key.resolve_verification_method(method).public_key
    signature = ed.sign(bytes(64))
    ed_sign = min(rounds_ms(lambda: ed.sign(bytes(64)), args.iterations, args.rounds))
    ed_verify = min(rounds_ms(lambda: public.verify(signature, bytes(64)), args.iterations, args.rounds))

    print(f"eddsa-rdfc-2022 on one core (CPU {args.cpu} of {os.cpu_count()}): best of {args.rounds} rounds of "
          f"{args.iterations} operations; Python {platform.python_version()}, node {js['node']}")
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other work on the machine slows "
          "both sides; the ratios are what to compare)")
    print(f"Ed25519 alone (cryptography): sign {ed_sign:.3f} ms, verify {ed_verify:.3f} ms\n")
    header = f"{'credential / operation':<58}{'Passerelle':>20}{'JS (Digital Bazaar)':>22}{'ratio':>9}  target"
    print(header)
    print(f"{'':<58}{'ms/op':>10}{'ops/s':>10}{'ms/op':>11}{'ops/s':>11}")
    met = True
    for name, rows in ours.items():
        print(f"{name}  (same proofValue as JS: {'yes' if same_signature[name] else 'NO'})")
        for operation, timings in rows.items():
            ours_ms = min(timings)
            base = operation.split(",")[0]
            theirs_ms = min(js["timings"][name][base])
            reference_row = "reference" in operation
            ratio = theirs_ms / ours_ms
            line = f"  {operation:<56}{ours_ms:>10.3f}{1000 / ours_ms:>10.0f}"
            line += f"{theirs_ms:>11.3f}{1000 / theirs_ms:>11.0f}{ratio:>8.2f}x"
            if not reference_row:
                ok = ratio >= TARGETS[base]
                met = met and ok
                line += f"  >= {TARGETS[base]}x {'met' if ok else 'NOT MET'}"
                spread = statistics.median(js["timings"][name][base]) / statistics.median(timings)
                line += f" (median ratio {spread:.2f}x)"
            print(line)
    print(f"\ntargets {'met' if met else 'NOT met'} on every credential")
    corpus_check(corpus, js["corpus"], test)


if __name__ == "__main__":
    main()
