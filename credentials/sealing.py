"""Sealing private keys at rest with a key derived from the node secret.

AES-256-GCM with a fresh 96-bit nonce per seal; the key is HKDF-SHA256 of the node secret. The caller passes an
``associated`` value (the key id) so a sealed blob cannot be swapped onto another row undetected.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_INFO = b"passerelle key sealing v1"


class SealError(ValueError):
    """A sealed blob that does not open: wrong node secret, tampered data or another row's blob."""


def _key(secret: bytes) -> bytes:
    if len(secret) < 32:
        raise SealError("the node secret must be at least 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def seal(secret: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt ``plaintext``; the result is ``version ‖ nonce ‖ ciphertext+tag``."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(_key(secret)).encrypt(nonce, plaintext, associated)


def open_sealed(secret: bytes, blob: bytes, associated: bytes) -> bytes:
    """Decrypt a blob made by :func:`seal`; raises :class:`SealError` on any mismatch."""
    if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
        raise SealError("not a sealed key blob")
    try:
        return AESGCM(_key(secret)).decrypt(blob[1:13], blob[13:], associated)
    except InvalidTag as exc:
        raise SealError("sealed key does not open with this node secret") from exc
