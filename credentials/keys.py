"""Signing keys: Ed25519 for Data Integrity proofs (published as Multikey), ES256 for JOSE, and RS256 for the
OpenID Connect clients that register for it (OpenID Connect requires an OP to offer RS256 ID tokens).

This module and :mod:`credentials.sealing` are the only places that touch raw key material. A private key
leaves this module only as sealed bytes (see :func:`credentials.sealing.seal`) or inside a signature.

Multikey: https://www.w3.org/TR/controller-document/#multikey (Ed25519 public keys carry the multicodec
prefix ``0xed01``). JWK thumbprints: RFC 7638.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from credentials.multibase import MultibaseError, decode_z, encode_z

KeyAlgorithm = Literal["Ed25519", "ES256", "RS256"]
ED25519_MULTICODEC = b"\xed\x01"
RSA_KEY_BITS = 2048  # the smallest RSA modulus we create or accept (SECURITY F11)


class KeyError_(ValueError):
    """A key that cannot be decoded, or of a type this library does not accept."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) over the required members of a public JWK."""
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    members = required.get(public_jwk.get("kty", ""))
    if members is None:
        raise KeyError_(f"unsupported JWK key type {public_jwk.get('kty')!r}")
    canonical = json.dumps({m: public_jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    """A private signing key with its algorithm and key id.

    ``kid`` is the RFC 7638 thumbprint of the public JWK, so the same key always has the same id.
    ``repr`` never shows the private key.
    """

    algorithm: KeyAlgorithm
    _private: Any

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm!r}, kid={self.kid!r})"

    @cached_property
    def kid(self) -> str:
        """Computed once per key: every ID token and credential proof names it."""
        return jwk_thumbprint(self.public_jwk())

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK (no ``d``), with ``alg`` and ``use``."""
        pub = self._private.public_key()
        if self.algorithm == "Ed25519":
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "alg": "EdDSA", "use": "sig"}
        if self.algorithm == "RS256":
            rsa_numbers = pub.public_numbers()
            return {
                "kty": "RSA",
                "n": _b64url(rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")),
                "e": _b64url(rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big")),
                "alg": "RS256",
                "use": "sig",
            }
        numbers = pub.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
            "alg": "ES256",
            "use": "sig",
        }

    def public_multikey(self) -> str:
        """The Ed25519 public key as ``publicKeyMultibase`` (``z`` + base58btc of 0xed01 ‖ key)."""
        if self.algorithm != "Ed25519":
            raise KeyError_("only Ed25519 keys are published as Multikey here")
        raw = self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return encode_z(ED25519_MULTICODEC + raw)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``. ES256 signatures are returned as raw ``r‖s`` (64 bytes), as JWS requires."""
        if self.algorithm == "Ed25519":
            return bytes(self._private.sign(data))
        if self.algorithm == "RS256":
            return bytes(self._private.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        der = self._private.sign(data, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def private_pkcs8(self) -> bytes:
        """The private key as unencrypted PKCS#8 DER, only to be sealed at once or handed to a signing worker."""
        return bytes(
            self._private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def jose_private_key(self) -> Any:
        """The ``cryptography`` private key object, for authlib's JOSE signers inside this room."""
        return self._private


def generate(algorithm: KeyAlgorithm) -> SigningKey:
    """Create a fresh key for ``Ed25519`` (credentials) or ``ES256`` (tokens, federation statements)."""
    if algorithm == "Ed25519":
        return SigningKey("Ed25519", ed25519.Ed25519PrivateKey.generate())
    if algorithm == "ES256":
        return SigningKey("ES256", ec.generate_private_key(ec.SECP256R1()))
    if algorithm == "RS256":
        return SigningKey("RS256", rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS))
    raise KeyError_(f"unsupported algorithm {algorithm!r}")


def load_pkcs8(algorithm: KeyAlgorithm, der: bytes) -> SigningKey:
    """Rebuild a key from PKCS#8 DER; refuses a key whose type does not match ``algorithm``."""
    private = serialization.load_der_private_key(der, password=None)
    expected = {"Ed25519": ed25519.Ed25519PrivateKey, "RS256": rsa.RSAPrivateKey}.get(
        algorithm, ec.EllipticCurvePrivateKey
    )
    if not isinstance(private, expected):
        raise KeyError_(f"stored key is not an {algorithm} key")
    return SigningKey(algorithm, private)


def ed25519_from_seed(seed: bytes) -> SigningKey:
    """An Ed25519 key from its 32-byte seed (used by published test vectors)."""
    return SigningKey("Ed25519", ed25519.Ed25519PrivateKey.from_private_bytes(seed))


@dataclass(frozen=True)
class VerificationKey:
    """A public key that checks signatures. :meth:`verify` raises on a bad signature; it never returns False."""

    algorithm: KeyAlgorithm
    _public: Any

    def verify(self, signature: bytes, data: bytes) -> None:
        from cryptography.exceptions import InvalidSignature

        try:
            if self.algorithm == "Ed25519":
                self._public.verify(signature, data)
            elif self.algorithm == "RS256":
                self._public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(signature) != 64:
                    raise InvalidSignature()
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                self._public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise SignatureError("signature does not verify") from exc


class SignatureError(ValueError):
    """A signature that does not verify with the given key."""


def public_key_from_multikey(multikey: str) -> VerificationKey:
    """Decode an Ed25519 ``publicKeyMultibase``; refuses another multicodec or a wrong length."""
    try:
        raw = decode_z(multikey)
    except MultibaseError as exc:
        raise KeyError_(str(exc)) from exc
    if raw[:2] != ED25519_MULTICODEC:
        raise KeyError_("multikey is not an Ed25519 public key (multicodec 0xed01)")
    if len(raw) != 34:
        raise KeyError_("Ed25519 multikey must hold exactly 32 key bytes")
    return VerificationKey("Ed25519", ed25519.Ed25519PublicKey.from_public_bytes(raw[2:]))


def public_key_from_jwk(jwk: dict[str, Any]) -> VerificationKey:
    """Decode a public JWK (OKP Ed25519 or EC P-256). A JWK with private members is refused."""
    if "d" in jwk:
        raise KeyError_("a public JWK must not contain private key material")
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            return VerificationKey(
                "Ed25519", ed25519.Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))
            )
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_b64url_decode(jwk["x"]), "big"),
                int.from_bytes(_b64url_decode(jwk["y"]), "big"),
                ec.SECP256R1(),
            )
            return VerificationKey("ES256", numbers.public_key())
        if jwk.get("kty") == "RSA":
            public = rsa.RSAPublicNumbers(
                int.from_bytes(_b64url_decode(jwk["e"]), "big"), int.from_bytes(_b64url_decode(jwk["n"]), "big")
            ).public_key()
            if public.key_size < RSA_KEY_BITS:
                raise KeyError_(f"RSA keys shorter than {RSA_KEY_BITS} bits are refused")
            return VerificationKey("RS256", public)
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyError_(f"malformed JWK: {exc}") from exc
    raise KeyError_("unsupported JWK (expected OKP/Ed25519, EC/P-256 or RSA)")


def multikey_from_jwk(jwk: dict[str, Any]) -> str:
    """The ``publicKeyMultibase`` of a public Ed25519 JWK (for DID documents built from stored keys)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" in jwk:
        raise KeyError_("expected a public Ed25519 JWK")
    raw = _b64url_decode(jwk["x"])
    if len(raw) != 32:
        raise KeyError_("Ed25519 public key must be 32 bytes")
    return encode_z(ED25519_MULTICODEC + raw)
