"""Pairwise subjects (OpenID Connect Core §8), ID token claims (§2) and PKCE (RFC 7636): pure functions."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError

from federation.oidc import pkce
from federation.oidc.id_token import half_hash, id_token_claims
from federation.oidc.subject import SectorError, derive_salt, pairwise_subject, sector_identifier, subject_for

SALT = derive_salt(b"s" * 32)


def test_pairwise_subject_is_stable_per_sector_and_differs_across_sectors():
    one = pairwise_subject(SALT, "one.example", "member-1")
    assert one == pairwise_subject(SALT, "one.example", "member-1")
    assert one != pairwise_subject(SALT, "two.example", "member-1")
    assert one != pairwise_subject(SALT, "one.example", "member-2")
    assert "member-1" not in one and len(one) == 43


def test_pairwise_subject_depends_on_the_node_secret():
    other = derive_salt(b"t" * 32)
    assert pairwise_subject(SALT, "one.example", "m") != pairwise_subject(other, "one.example", "m")
    assert SALT != b"s" * 32


def test_public_subject_is_the_local_id_only_when_asked():
    assert subject_for("public", SALT, "one.example", "m") == "m"
    assert subject_for("pairwise", SALT, "one.example", "m") != "m"


def test_sector_is_the_single_redirect_host_or_the_sector_identifier_uri_host():
    assert sector_identifier(["https://a.example/cb", "https://a.example/other"]) == "a.example"
    assert sector_identifier(["https://a.example/cb", "https://b.example/cb"], "https://s.example/x") == "s.example"
    with pytest.raises(SectorError):
        sector_identifier(["https://a.example/cb", "https://b.example/cb"])


def test_id_token_claims_follow_the_rules():
    claims = id_token_claims(issuer="https://op.example", client_id="c1", subject="s", now=1000, lifetime=600,
                             auth_time=2000, alg="ES256", nonce="n", access_token="at",
                             released={"email": "a@b.c", "iss": "forged"})
    assert claims["iss"] == "https://op.example" and claims["aud"] == "c1" and claims["azp"] == "c1"
    assert claims["exp"] == 1600 and claims["iat"] == 1000
    assert claims["auth_time"] == 1000, "never after the issue time"
    assert claims["nonce"] == "n" and claims["email"] == "a@b.c"
    assert claims["at_hash"] == half_hash("at", "ES256")
    assert "nonce" not in id_token_claims(issuer="i", client_id="c", subject="s", now=1, lifetime=1, auth_time=1,
                                          alg="ES256")


def test_at_hash_vector_from_openid_connect_core_appendix():
    # OpenID Connect Core 1.0 Appendix A.3 (RS256): access token and its at_hash.
    assert half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256") == "77QmUPtjPfzWtF2AnpK9RQ"
    assert len(half_hash("x", "EdDSA")) == 43, "EdDSA uses SHA-512: half is 32 bytes"


def test_pkce_s256_vector_from_rfc7636_appendix_b():
    assert pkce.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_challenge_must_be_s256_and_43_characters():
    good = {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    assert pkce.check_challenge(good) == (good["code_challenge"], "S256")
    for bad in ({**good, "code_challenge_method": "plain"}, {"code_challenge": good["code_challenge"]}, {},
                {**good, "code_challenge": "a" * 42}, {**good, "code_challenge": "a+b/=" + "c" * 38}):
        with pytest.raises(InvalidRequestError):
            pkce.check_challenge(bad)


def test_pkce_verifier_checks():
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    pkce.check_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge)
    with pytest.raises(InvalidGrantError):
        pkce.check_verifier("x" * 43, challenge)
    for verifier, stored in ((None, challenge), ("short", challenge), ("x" * 43, None)):
        with pytest.raises(InvalidRequestError):
            pkce.check_verifier(verifier, stored)
