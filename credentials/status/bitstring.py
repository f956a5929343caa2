"""The status bitstring of Bitstring Status List 1.0: bit access, GZIP compression and multibase encoding.

Spec: https://www.w3.org/TR/vc-bitstring-status-list/ §2.2 (``encodedList``), §3.3 (generation), §3.4 (expansion)
and §7.1 (bitstring encoding). Index 0 is the left-most bit, that is the most significant bit of the first byte;
a status of ``statusSize`` bits occupies the bits ``index * statusSize`` to ``index * statusSize + statusSize - 1``,
most significant first. ``encodedList`` is ``u`` followed by base64url without padding of the GZIP stream.

Decoding is bounded: a published list is attacker-controlled input to a verifier, so the decompressed size is
capped (:data:`MAX_LIST_BYTES`) and a stream that would grow past the cap is refused without being inflated.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from functools import lru_cache

from credentials.status.errors import MalformedValueError, StatusListLengthError, StatusRangeError

MIN_ENTRIES = 131_072
"""Minimum number of entries in a list (§3.2 step 2): 16 KiB of bits with ``statusSize`` 1, for herd privacy."""

MAX_STATUS_SIZE = 8
"""Largest ``statusSize`` this library handles (the spec lets processors support only 1)."""

MAX_LIST_BYTES = 2 * 1024 * 1024
"""Default cap on the decompressed bitstring: 16,777,216 one-bit entries; larger lists are refused."""

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class Bitstring:
    """A fixed-length list of statuses of ``status_size`` bits each, stored as bytes (index 0 = left-most bit)."""

    __slots__ = ("_bytes", "status_size")

    def __init__(self, data: bytes | bytearray, status_size: int = 1) -> None:
        _check_status_size(status_size)
        self._bytes = bytearray(data)
        self.status_size = status_size

    @classmethod
    def zeros(cls, entries: int = MIN_ENTRIES, status_size: int = 1) -> Bitstring:
        """A list of ``entries`` statuses, all 0, rounded up to whole bytes; refuses fewer than :data:`MIN_ENTRIES`."""
        if entries < MIN_ENTRIES:
            raise StatusListLengthError(f"a status list needs at least {MIN_ENTRIES} entries, not {entries}")
        _check_status_size(status_size)
        return cls(bytes(-(-entries * status_size // 8)), status_size)

    @property
    def entries(self) -> int:
        """How many statuses of ``status_size`` bits the list holds."""
        return len(self._bytes) * 8 // self.status_size

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def get(self, index: int) -> int:
        """The status at ``index`` as an integer in ``[0, 2**status_size)``; raises ``RANGE_ERROR`` outside."""
        start = self._position(index)
        value = 0
        for bit in range(start, start + self.status_size):
            value = (value << 1) | ((self._bytes[bit >> 3] >> (7 - (bit & 7))) & 1)
        return value

    def set(self, index: int, value: int) -> None:
        """Write the status at ``index``; other statuses are left as they are."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << self.status_size:
            raise MalformedValueError(f"status value must be an integer below {1 << self.status_size}")
        start = self._position(index)
        for offset in range(self.status_size):
            bit = start + offset
            mask = 1 << (7 - (bit & 7))
            if (value >> (self.status_size - 1 - offset)) & 1:
                self._bytes[bit >> 3] |= mask
            else:
                self._bytes[bit >> 3] &= ~mask & 0xFF

    def _position(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise MalformedValueError("status index must be an integer")
        if not 0 <= index < self.entries:
            raise StatusRangeError(f"status index {index} is outside the list of {self.entries} entries")
        return index * self.status_size

    def encode(self) -> str:
        """``encodedList``: ``u`` + base64url (no padding) of the GZIP-compressed bytes (deterministic: mtime 0)."""
        return encode_list(self.to_bytes())


def encode_list(data: bytes) -> str:
    """Compress and multibase-encode raw bitstring bytes (§3.3 step 3)."""
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_list(encoded: object, *, max_bytes: int = MAX_LIST_BYTES) -> bytes:
    """Expand an ``encodedList`` into raw bytes (§3.4), refusing anything malformed or larger than ``max_bytes``.

    Raises :class:`MalformedValueError` on a missing ``u`` prefix, a character outside base64url, a broken or
    trailing-garbage GZIP stream, or a stream that would inflate past ``max_bytes`` (a compression bomb).
    The last few lists decoded are remembered (bytes are immutable): a verifier checks the same list for every
    credential of an issuer, and inflating 16 KiB again each time was a tenth of a verification.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise MalformedValueError("encodedList must be a string starting with 'u' (multibase base64url)")
    return _decode_list(encoded, max_bytes)


@lru_cache(maxsize=64)
def _decode_list(encoded: str, max_bytes: int) -> bytes:
    if not encoded.startswith("u"):
        raise MalformedValueError("encodedList must be a string starting with 'u' (multibase base64url)")
    body = encoded[1:]
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise MalformedValueError("encodedList is not base64url without padding")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedValueError("encodedList is not base64url without padding") from exc
    return _gunzip(compressed, max_bytes)


def _gunzip(compressed: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise MalformedValueError("encodedList is not a valid GZIP stream") from exc
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise MalformedValueError(f"the decompressed status list exceeds the limit of {max_bytes} bytes")
    if not inflater.eof:
        raise MalformedValueError("encodedList holds a truncated GZIP stream")
    if inflater.unused_data:
        raise MalformedValueError("encodedList has data after the GZIP stream")
    return data


def decode_bitstring(
    encoded: object, status_size: int = 1, *, min_entries: int = MIN_ENTRIES, max_bytes: int = MAX_LIST_BYTES
) -> Bitstring:
    """Decode an ``encodedList`` and check its length: fewer than ``min_entries`` is ``STATUS_LIST_LENGTH_ERROR``."""
    bitstring = Bitstring(decode_list(encoded, max_bytes=max_bytes), status_size)
    if bitstring.entries < min_entries:
        raise StatusListLengthError(
            f"the status list holds {bitstring.entries} entries; at least {min_entries} are required"
        )
    return bitstring


def _check_status_size(status_size: object) -> None:
    if isinstance(status_size, bool) or not isinstance(status_size, int) or not 1 <= status_size <= MAX_STATUS_SIZE:
        raise MalformedValueError(f"statusSize must be an integer from 1 to {MAX_STATUS_SIZE}")
