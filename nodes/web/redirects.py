"""Open-redirect guard for our own ``next=`` parameters (SECURITY W3)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a plain path of this site, else ``default``.

    Refused: absolute URLs, scheme-relative ``//evil``, backslash tricks ``/\\evil``, ``javascript:``, control
    characters, and anything with a scheme or host once parsed.
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
