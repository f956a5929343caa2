"""ID token construction (OpenID Connect Core 1.0 §2, §3.1.3.6) and its signature through :mod:`credentials.jose`.

Rules kept here so they are easy to read and to test: ``iss`` is exactly the issuer, ``aud`` is the client id and
``azp`` repeats it, ``iat`` is never in the future, ``exp`` follows ``iat``, ``auth_time`` is always present,
``nonce`` is copied byte for byte when the request had one and absent otherwise (conformance
``oidcc-ensure-request-without-nonce-succeeds-for-code-flow``), and ``at_hash`` binds the access token.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from credentials.jose import JoseError, sign_jwt, verify_jwt
from credentials.keys import SigningKey

if TYPE_CHECKING:
    from federation.oidc.provider import Provider

#: ID token signing algorithms, by the keyring purpose whose key signs them.
ID_TOKEN_ALGORITHMS: dict[str, str] = {"ES256": "jose", "RS256": "jose-rsa", "EdDSA": "jose-eddsa"}
DEFAULT_ID_TOKEN_ALG = "ES256"  # noqa: S105 (an algorithm name)


def half_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash`` (§3.1.3.6): the left half of the hash of ``value``, base64url.

    SHA-256 for ES256 and RS256; SHA-512 for EdDSA with Ed25519 (as the OpenID Connect errata and every library
    that supports EdDSA ID tokens do).
    """
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    subject: str,
    now: int,
    lifetime: int,
    auth_time: int,
    alg: str,
    nonce: str | None = None,
    access_token: str | None = None,
    released: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of an ID token. ``released`` are the consented claims asked for in the ID token."""
    claims: dict[str, Any] = dict(released or {})
    claims.update(
        {
            "iss": issuer,
            "sub": subject,
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + lifetime,
            "auth_time": min(auth_time, now),
        }
    )
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token:
        claims["at_hash"] = half_hash(access_token, alg)
    return claims


def sign_id_token(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """Sign ID token claims with ``key`` (``alg`` and ``kid`` in the header; ``typ`` is JWT)."""
    return sign_jwt(key, claims, typ="JWT")


def read_id_token_hint(provider: Provider, hint: str) -> dict[str, Any]:
    """The claims of an ``id_token_hint``: an ID token this provider signed (one of our published keys, an
    algorithm we sign ID tokens with, ``iss`` exact). It may have expired: a hint names a member, it grants
    nothing. Raises :class:`~credentials.jose.JoseError`."""
    _, claims = verify_jwt(hint, provider.keys.public_jwks(), tuple(ID_TOKEN_ALGORITHMS))
    if claims.get("iss") != provider.config.issuer:
        raise JoseError("the ID token was not issued by this provider")
    return claims
