"""Base58btc multibase (the ``z`` prefix), as used by Multikey and ``did:key``.

See https://www.w3.org/TR/controller-document/#multibase-0 . The alphabet is Bitcoin's.
"""

from __future__ import annotations

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


class MultibaseError(ValueError):
    """A multibase string that is not base58btc or holds a character outside the alphabet."""


def b58encode(data: bytes) -> str:
    """Encode bytes as base58btc (leading zero bytes become leading ``1`` characters)."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Decode base58btc; raises :class:`MultibaseError` on a character outside the alphabet."""
    number = 0
    for char in text:
        if char not in _INDEX:
            raise MultibaseError(f"invalid base58btc character {char!r}")
        number = number * 58 + _INDEX[char]
    pad = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * pad + body


def encode_z(data: bytes) -> str:
    """Multibase-encode with base58btc: ``z`` followed by the base58btc text."""
    return "z" + b58encode(data)


def decode_z(text: str) -> bytes:
    """Decode a ``z``-prefixed multibase string; any other prefix is refused."""
    if not isinstance(text, str) or not text.startswith("z"):
        raise MultibaseError("multibase value must start with 'z' (base58btc)")
    return b58decode(text[1:])
