"""Alumni Hub's languages (English and French): its own message catalogs, and the language of a request.

Catalogs are flat JSON files in ``locales/<lang>.json`` (``str.format`` placeholders); both hold the same keys (a
test checks it). The language is the one the visitor chose (``/lang/fr``, kept in the session), else the best of
``Accept-Language``, else English. Messages decided in code (a refused sign-in, a credential check) carry a key and
their values, and are put into words only when a page is rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

from nodes.i18n import negotiate

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = ("en", "fr")


@cache
def catalog(lang: str) -> Mapping[str, str]:
    return dict(json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8")))


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of ``key`` in ``lang`` (English when the key is missing there), placeholders filled."""
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    return lambda key, **values: translate(lang, key, **values)


def language(request: Request) -> str:
    chosen = request.session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return negotiate(request.headers.get("accept-language"), list(LANGUAGES))


class Message:
    """A message decided in code and worded later, in the page's language."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key, self.values = key, {name: str(value) for name, value in values.items()}

    def __str__(self) -> str:
        return translate("en", self.key, **self.values)

    def as_dict(self) -> dict[str, Any]:
        """For the session, which holds plain data."""
        return {"key": self.key, "values": self.values}
