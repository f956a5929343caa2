"""Regenerate Passerelle's own eddsa-rdfc-2022 vectors with the independent implementation in tests/interop/js.

Every file here except ``*/unsigned.json`` (written by hand) comes from Digital Bazaar's libraries, never from
credentials/: the canonical forms from their canonize, the signed document from their signer (with the W3C key
pair, so Ed25519 being deterministic, the proof value is a known answer), the hashes are SHA-256 of their
canonical forms. tests/credentials/test_data_integrity_vectors.py checks that credentials/ reproduces them.

    .venv/bin/python tests/vectors/vc-di-eddsa/passerelle/make_vectors.py   (needs node and npm ci in the js folder)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
CREATED = "2023-02-24T23:36:38Z"


def main() -> None:
    key_pair = json.loads((HERE.parent / "keyPair.json").read_text())
    seed = bytes.fromhex(_b58decode(key_pair["privateKeyMultibase"][1:]).hex()[4:])
    multikey = key_pair["publicKeyMultibase"]
    for case in sorted(p for p in HERE.iterdir() if (p / "unsigned.json").exists()):
        unsigned = json.loads((case / "unsigned.json").read_text(encoding="utf-8"))
        config = {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": CREATED,
            "verificationMethod": f"did:key:{multikey}#{multikey}",
            "proofPurpose": "assertionMethod",
            "@context": unsigned["@context"],
        }
        canon_doc, canon_proof, signed = _run_js(
            [
                {"op": "canonize", "document": unsigned},
                {"op": "canonize", "document": config},
                {"op": "sign", "document": unsigned, "seed": seed.hex(), "created": CREATED},
            ]
        )
        _write(case / "proofConfig.json", json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        _write(case / "canonDoc.txt", canon_doc["nquads"])
        _write(case / "proofCanon.txt", canon_proof["nquads"])
        _write(case / "docHash.txt", hashlib.sha256(canon_doc["nquads"].encode()).hexdigest())
        _write(case / "proofHash.txt", hashlib.sha256(canon_proof["nquads"].encode()).hexdigest())
        _write(case / "sigBTC58.txt", signed["document"]["proof"]["proofValue"])
        _write(case / "signed.json", json.dumps(signed["document"], indent=2, ensure_ascii=False) + "\n")


def _run_js(requests: list[dict[str, object]]) -> list[dict[str, object]]:
    script = ROOT / "tests" / "interop" / "js" / "interop.mjs"
    out = subprocess.run(
        ["node", str(script)], input=json.dumps({"requests": requests}), capture_output=True, text=True, check=True
    )
    results: list[dict[str, object]] = json.loads(out.stdout)["results"]
    for result in results:
        if "error" in result:
            raise SystemExit(f"interop error: {result['error']}")
    return results


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for char in text:
        number = number * 58 + alphabet.index(char)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="")


if __name__ == "__main__":
    main()
