"""Read the bundled JSON-LD contexts by URL, checking each file against the SHA-256 in ``contexts/index.json``.

Only URLs listed in the index exist here. A context marked ``test_only`` (``credentials/examples/v2``, which
defines ``@vocab`` and so turns any undefined term into a signed-looking IRI) is served only when the caller
passes ``test_mode=True``; production code never does.

Each call returns a fresh object, so a caller (or pyld, which rewrites context URLs in place) cannot alter what
the next caller reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_PACKAGE = "schemas.contexts"


class UnknownContextError(LookupError):
    """A context URL that is not bundled (or is test-only and test mode is off)."""


class ContextIntegrityError(RuntimeError):
    """A bundled context file whose bytes no longer match the SHA-256 recorded in the index."""


@dataclass(frozen=True)
class ContextEntry:
    """One row of ``contexts/index.json``: where a context file is, where it came from and its hash."""

    url: str
    file: str
    source: str
    sha256: str
    test_only: bool


@cache
def _index() -> dict[str, ContextEntry]:
    raw = json.loads(resources.files(_PACKAGE).joinpath("index.json").read_bytes())
    return {
        url: ContextEntry(url, row["file"], row["source"], row["sha256"], bool(row.get("test_only", False)))
        for url, row in raw.items()
    }


@cache
def _verified_bytes(url: str) -> bytes:
    entry = _index()[url]
    data = resources.files(_PACKAGE).joinpath(entry.file).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise ContextIntegrityError(f"bundled context for {url} does not match its recorded SHA-256")
    return data


def bundled_context_urls(*, test_mode: bool = False) -> frozenset[str]:
    """The context URLs a loader may serve; test-only contexts are included only in test mode."""
    return frozenset(url for url, entry in _index().items() if test_mode or not entry.test_only)


def context_entry(url: str) -> ContextEntry:
    """The index row of a bundled context (file, source package, SHA-256)."""
    try:
        return _index()[url]
    except KeyError:
        raise UnknownContextError(f"context {url!r} is not bundled") from None


def load_context(url: str, *, test_mode: bool = False) -> dict[str, Any]:
    """The parsed context document served at ``url``; raises :class:`UnknownContextError` if not allowed."""
    if url not in bundled_context_urls(test_mode=test_mode):
        raise UnknownContextError(f"context {url!r} is not bundled" + ("" if test_mode else " for production"))
    document: dict[str, Any] = json.loads(_verified_bytes(url))
    return document


def context_bytes(url: str) -> bytes:
    """The exact bytes of a bundled (non test-only) context, checked against its SHA-256; what a node serves."""
    if url not in bundled_context_urls():
        raise UnknownContextError(f"context {url!r} is not bundled for production")
    return _verified_bytes(url)


JSON_SCHEMA_TYPES = ("AlumniCredential", "EmployeeAlumniCredential")
"""Credential types with a JSON Schema (draft 2020-12) in ``schemas/json_schemas/<type>.schema.json``."""


def load_json_schema(credential_type: str) -> dict[str, Any]:
    """A fresh copy of the JSON Schema of a Passerelle credential type; :class:`LookupError` for another type."""
    if credential_type not in JSON_SCHEMA_TYPES:
        raise LookupError(f"no JSON Schema for credential type {credential_type!r}")
    raw = resources.files("schemas.json_schemas").joinpath(f"{credential_type}.schema.json").read_bytes()
    schema: dict[str, Any] = json.loads(raw)
    return schema
