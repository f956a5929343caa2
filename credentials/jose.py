"""Compact JWS and JWT (RFC 7515, RFC 7519): signed with one of our keys, verified against an explicit allow-list.

Signing and verification of every JWT the project makes or reads goes through here, so the traps of generic JOSE
libraries are closed in one place (SECURITY R1-R4, O20):

- ``alg`` must be in the caller's allow-list; ``none`` and the HMAC algorithms are never accepted, whatever the
  list says, so a token MACed with a public key (CVE-2024-37568) cannot pass;
- keys come only from the caller: a header that carries its own key (``jwk``, ``jku``, ``x5u``, ``x5c``) is
  refused (CVE-2026-27962), and so is any ``crit`` extension;
- a token larger than :data:`MAX_TOKEN_BYTES` is refused before any decoding.

Verification raises :class:`JoseError`; it never returns a "false".
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from credentials.keys import KeyError_, SignatureError, SigningKey, public_key_from_jwk

#: JWS ``alg`` names we sign and verify, and the key algorithm each needs.
JWS_ALGORITHMS: dict[str, str] = {"ES256": "ES256", "RS256": "RS256", "EdDSA": "Ed25519"}
MAX_TOKEN_BYTES = 16 * 1024
_FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c", "crit")


class JoseError(ValueError):
    """A token that is malformed, uses a refused algorithm or header, or whose signature does not verify."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if any(c in text for c in "+/= \n"):
        raise JoseError("token segments must be unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JoseError("token segment is not base64url") from exc


def _json_segment(text: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JoseError("token segment is not JSON") from exc
    if not isinstance(value, dict):
        raise JoseError("token segment is not a JSON object")
    return value


def jws_algorithm(key: SigningKey) -> str:
    """The JWS ``alg`` a key signs with: ``EdDSA`` for Ed25519, else the key's own algorithm name."""
    return "EdDSA" if key.algorithm == "Ed25519" else key.algorithm


def sign_jwt(
    key: SigningKey, claims: Mapping[str, Any], *, typ: str | None = "JWT", headers: Mapping[str, Any] | None = None
) -> str:
    """A compact JWS over ``claims`` with ``alg`` and ``kid`` of ``key`` (and ``typ`` unless ``None``)."""
    header: dict[str, Any] = {**(headers or {}), "alg": jws_algorithm(key), "kid": key.kid}
    if typ:
        header["typ"] = typ
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode()) for part in (header, claims)
    )
    return signing_input + "." + _b64url(key.sign(signing_input.encode("ascii")))


def read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a well-formed compact JWS, **without** checking its signature.

    Only for choosing the key to verify with (a client assertion names its client in ``iss``/``sub``); the result
    must never be trusted before :func:`verify_jwt` succeeds.
    """
    header, claims, _, _ = _split(token)
    return header, claims


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise JoseError("token is missing or too large")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JoseError("not a compact JWS (header.payload.signature)")
    header, claims = _json_segment(parts[0]), _json_segment(parts[1])
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), _b64url_decode(parts[2])


def verify_jwt(
    token: str, jwks: Collection[Mapping[str, Any]], algorithms: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the signature of ``token`` with one of ``jwks``; returns ``(header, claims)``.

    The key is the one whose ``kid`` equals the header's; without a ``kid`` the token verifies only when exactly
    one key of ``jwks`` fits the algorithm. Claims (``iss``, ``aud``, ``exp`` ...) are the caller's to check.
    """
    header, claims, signing_input, signature = _split(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in JWS_ALGORITHMS:
        raise JoseError(f"algorithm {alg!r} is not accepted here")
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise JoseError(f"header parameter {name!r} is refused")
    key = _pick_key(jwks, alg, header.get("kid"))
    try:
        key.verify(signature, signing_input)
    except SignatureError as exc:
        raise JoseError("signature does not verify") from exc
    return header, claims


def _pick_key(jwks: Collection[Mapping[str, Any]], alg: str, kid: Any) -> Any:
    fitting = []
    for jwk in jwks:
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        if kid is not None and jwk.get("kid") != kid:
            continue
        try:
            public = public_key_from_jwk(dict(jwk))
        except KeyError_:
            continue
        if public.algorithm == JWS_ALGORITHMS[alg]:
            fitting.append(public)
    if len(fitting) != 1:
        raise JoseError("no single key of the key set matches the token's kid and algorithm")
    return fitting[0]
