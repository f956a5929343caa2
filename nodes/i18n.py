"""Page languages (French and English): message catalogs and the choice of language for a request.

Catalogs are flat JSON files in ``nodes/locales/<lang>.json`` mapping a message key to its text (``str.format``
placeholders allowed). A key missing from a catalog falls back to English, then to the key itself, and a test
checks that both catalogs hold the same keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).parent / "locales"


@cache
def catalog(lang: str) -> dict[str, str]:
    path = LOCALES / f"{lang}.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of ``key`` in ``lang``; placeholders are filled from ``values``."""
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return text.format(**values) if values else text


def negotiate(accept_language: str | None, offered: Sequence[str]) -> str:
    """Pick the best of ``offered`` for an ``Accept-Language`` header (RFC 9110 §12.5.4); default first offered."""
    best, best_q = offered[0], 0.0
    for part in (accept_language or "").split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower().split("-")[0]
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag in offered and q > best_q:
            best, best_q = tag, q
    return best
