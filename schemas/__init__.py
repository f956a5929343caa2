"""Data, not code: the bundled JSON-LD contexts (and, later, JSON Schemas) with a tiny loader.

This is the lowest room: it imports nothing from the other rooms.
"""

from schemas.loader import (
    JSON_SCHEMA_TYPES,
    ContextEntry,
    ContextIntegrityError,
    UnknownContextError,
    bundled_context_urls,
    context_entry,
    load_context,
    load_json_schema,
)

__all__ = [
    "ContextEntry",
    "ContextIntegrityError",
    "UnknownContextError",
    "bundled_context_urls",
    "context_entry",
    "load_context",
    "JSON_SCHEMA_TYPES",
    "load_json_schema",
]
