"""QR codes for the member pages, as PNG ``data:`` URIs (the pages' CSP allows ``img-src data:``).

A credential is put in the code as compact JSON, so a verifier can scan it and paste it into ``/verify`` without
asking anyone; above :data:`MAX_QR_BYTES` (the binary capacity of the largest QR code at low error correction)
there is no code, and the page says to download the JSON instead.

The image has one pixel per module (the page scales it up with ``image-rendering: pixelated``) and is written
here as a 1-bit greyscale PNG with :mod:`zlib`: a code of a credential weighs a few kilobytes, where an SVG with
one shape per run of modules weighs close to a hundred.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import qrcode
import qrcode.constants
import qrcode.exceptions

MAX_QR_BYTES = 2953


def compact_json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def qr_data_uri(data: bytes) -> str | None:
    """A QR code of ``data`` as a ``data:image/png;base64,...`` URI, or ``None`` when it does not fit."""
    if len(data) > MAX_QR_BYTES:
        return None
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=4)
    code.add_data(data, optimize=0)
    try:
        code.make(fit=True)
    except qrcode.exceptions.DataOverflowError:
        return None
    return "data:image/png;base64," + base64.b64encode(png(code.get_matrix())).decode("ascii")


def png(matrix: list[list[bool]]) -> bytes:
    """A 1-bit greyscale PNG (RFC 2083) of ``matrix``: dark modules black, light ones white."""
    height, width = len(matrix), len(matrix[0]) if matrix else 0
    raw = bytearray()
    for row in matrix:
        raw.append(0)  # filter type "None"
        bits = 0
        for x, dark in enumerate(row):
            bits = (bits << 1) | (0 if dark else 1)
            if x % 8 == 7:
                raw.append(bits)
                bits = 0
        if width % 8:
            raw.append((bits << (8 - width % 8)) & 0xFF)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
