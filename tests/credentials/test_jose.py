"""Compact JWS through credentials.jose: our signatures verify, and the classic JOSE attacks are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from credentials import keys
from credentials.jose import JoseError, read_unverified, sign_jwt, verify_jwt


def part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(("algorithm", "alg"), [("ES256", "ES256"), ("RS256", "RS256"), ("Ed25519", "EdDSA")])
def test_signed_token_verifies_with_its_published_key(algorithm, alg):
    key = keys.generate(algorithm)
    token = sign_jwt(key, {"sub": "x", "n": "é"})
    header, claims = verify_jwt(token, [key.public_jwk() | {"kid": key.kid}], [alg])
    assert header == {"alg": alg, "kid": key.kid, "typ": "JWT"} and claims == {"sub": "x", "n": "é"}


def test_rsa_keys_are_at_least_2048_bits_and_refused_shorter():
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = keys.generate("RS256")
    assert key.jose_private_key().key_size >= 2048
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    jwk = {"kty": "RSA", "n": base64.urlsafe_b64encode(small.n.to_bytes(128, "big")).rstrip(b"=").decode(),
           "e": "AQAB"}
    with pytest.raises(keys.KeyError_):
        keys.public_key_from_jwk(jwk)


def test_r1_unsigned_token_is_refused_even_if_none_is_listed():
    key = keys.generate("ES256")
    token = f"{part({'alg': 'none'})}.{part({'sub': 'x'})}."
    with pytest.raises(JoseError):
        verify_jwt(token, [key.public_jwk()], ["none", "ES256"])


def test_r2_hs256_macd_with_the_public_key_is_refused():
    key = keys.generate("RS256")
    jwk = key.public_jwk()
    signing_input = f"{part({'alg': 'HS256'})}.{part({'sub': 'x'})}"
    mac = hmac.new(json.dumps(jwk).encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(JoseError):
        verify_jwt(token, [jwk], ["HS256", "RS256"])


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_r3_r4_headers_that_bring_their_own_key_or_extensions_are_refused(header):
    attacker = keys.generate("ES256")
    value = {"jwk": attacker.public_jwk(), "jku": "https://evil.test/jwks", "x5u": "https://evil.test/x",
             "x5c": ["AAAA"], "crit": ["x"]}[header]
    token = sign_jwt(attacker, {"sub": "x"}, headers={header: value})
    with pytest.raises(JoseError):
        verify_jwt(token, [attacker.public_jwk() | {"kid": attacker.kid}], ["ES256"])


def test_token_signed_by_another_key_or_with_another_alg_is_refused():
    ours, theirs = keys.generate("ES256"), keys.generate("ES256")
    with pytest.raises(JoseError):
        verify_jwt(sign_jwt(theirs, {}), [ours.public_jwk() | {"kid": ours.kid}], ["ES256"])
    with pytest.raises(JoseError):
        verify_jwt(sign_jwt(ours, {}), [ours.public_jwk() | {"kid": ours.kid}], ["RS256"])


def test_r7_kid_absent_verifies_with_one_fitting_key_but_not_among_several():
    one, two = keys.generate("ES256"), keys.generate("ES256")
    signing_input = f"{part({'alg': 'ES256'})}.{part({'sub': 'x'})}"
    token = signing_input + "." + base64.urlsafe_b64encode(one.sign(signing_input.encode())).rstrip(b"=").decode()
    verify_jwt(token, [one.public_jwk()], ["ES256"])
    with pytest.raises(JoseError):
        verify_jwt(token, [one.public_jwk(), two.public_jwk()], ["ES256"])


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 20000, "e30.e30.!!", "W10.e30.", "e30=.e30."])
def test_malformed_or_oversized_tokens_are_refused(token):
    with pytest.raises(JoseError):
        verify_jwt(token, [], ["ES256"])


def test_read_unverified_reads_claims_without_trusting_them():
    key = keys.generate("ES256")
    assert read_unverified(sign_jwt(key, {"sub": "c"}))[1] == {"sub": "c"}
