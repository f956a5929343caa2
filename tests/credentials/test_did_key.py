"""did:key for Ed25519: created and resolved locally; anything else is an invalid DID (SECURITY D6)."""

from __future__ import annotations

import pytest

from credentials import did_key, keys
from credentials.errors import InvalidDidError
from credentials.multibase import b58encode, encode_z

VECTOR_KEY = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
VECTOR_DID = f"did:key:{VECTOR_KEY}"


def test_did_key_of_a_key_is_its_multikey() -> None:
    key = keys.generate("Ed25519")
    did = did_key.did_key_for(key)
    assert did == "did:key:" + key.public_multikey()
    assert did.startswith("did:key:z6Mk")


def test_verification_method_fragment_is_the_key() -> None:
    assert did_key.verification_method_id(VECTOR_DID) == f"{VECTOR_DID}#{VECTOR_KEY}"


def test_resolve_builds_a_document_with_one_multikey_method() -> None:
    document = did_key.resolve(VECTOR_DID)
    method_id = f"{VECTOR_DID}#{VECTOR_KEY}"
    assert document["id"] == VECTOR_DID
    assert document["verificationMethod"] == [
        {"id": method_id, "type": "Multikey", "controller": VECTOR_DID, "publicKeyMultibase": VECTOR_KEY}
    ]
    assert document["assertionMethod"] == document["authentication"] == [method_id]
    assert "keyAgreement" not in document


def test_resolved_method_verifies_the_keys_signatures() -> None:
    key = keys.generate("Ed25519")
    method = did_key.resolve_verification_method(did_key.verification_method_id(did_key.did_key_for(key)))
    assert method.controller == did_key.did_key_for(key)
    assert {"assertionMethod", "authentication"} <= method.relationships
    method.public_key.verify(key.sign(b"hello"), b"hello")


def test_fragment_other_than_the_key_is_invalid() -> None:
    other = keys.generate("Ed25519").public_multikey()
    with pytest.raises(InvalidDidError):
        did_key.resolve_verification_method(f"{VECTOR_DID}#{other}")
    with pytest.raises(InvalidDidError):
        did_key.resolve_verification_method(f"{VECTOR_DID}#key-1")


def test_method_id_without_fragment_is_invalid() -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve_verification_method(VECTOR_DID)


@pytest.mark.parametrize(
    "did",
    [
        "did:key:" + "f" + "ed01" + "00" * 32,  # base16 multibase
        "did:key:u7QE" + "A" * 43,  # base64url multibase
        "did:key:" + VECTOR_KEY[1:],  # no multibase prefix
    ],
)
def test_multibase_other_than_base58btc_is_invalid(did: str) -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve(did)


@pytest.mark.parametrize(
    "prefix",
    [
        b"\x80\x24",  # P-256 public key (did:key:zDn...)
        b"\xe7\x01",  # secp256k1 public key (did:key:zQ3s...)
        b"\xec\x01",  # X25519 key agreement key
        b"\x80\x26",  # Ed25519 *private* key
    ],
)
def test_multicodec_other_than_ed25519_public_key_is_invalid(prefix: bytes) -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve("did:key:" + encode_z(prefix + bytes(range(32))))


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_key_length_is_invalid(length: int) -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve("did:key:" + encode_z(b"\xed\x01" + b"\x07" * length))


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "+", "/"])
def test_character_outside_base58_is_invalid(bad: str) -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve(f"did:key:{VECTOR_KEY[:-1]}{bad}")


@pytest.mark.parametrize("suffix", ["/path", "?service=x", ":extra", " "])
def test_path_query_or_extra_segment_is_invalid(suffix: str) -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve(VECTOR_DID + suffix)


def test_other_did_methods_are_invalid_here() -> None:
    with pytest.raises(InvalidDidError):
        did_key.resolve("did:web:example.com")


def test_es256_key_has_no_did_key_here() -> None:
    with pytest.raises(InvalidDidError):
        did_key.did_key_for(keys.generate("ES256"))


def test_invalid_did_error_carries_the_did_resolution_code() -> None:
    with pytest.raises(InvalidDidError) as caught:
        did_key.resolve("did:key:zNotAKey")
    assert caught.value.code == "invalidDid"


def test_multikey_helper_refuses_what_resolve_refuses() -> None:
    with pytest.raises(InvalidDidError):
        did_key.did_key_from_multikey("z" + b58encode(b"\xe7\x01" + bytes(33)))
