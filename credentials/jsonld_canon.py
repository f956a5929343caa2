"""JSON-LD document -> canonical N-Quads, the transformation under ``eddsa-rdfc-2022``.

Pipeline (each step refuses rather than guesses):
1. :meth:`JsonLdLoader.check_contexts` - only bundled context URLs, before any loader runs.
2. :func:`credentials.jsonld_safety.prepare` - input pyld would drop or other implementations would read
   differently.
3. pyld expansion with our loader, ``base=None`` and an ``on_property_dropped`` hook that refuses undefined terms.
4. :func:`credentials.jsonld_safety.check_expanded` - relative or malformed IRIs, ``@index``.
5. :func:`credentials.jsonld_rdf.to_quads` - expanded JSON-LD to RDF in linear time (pyld's is quadratic).
6. :func:`credentials.rdfc.canonicalize` - RDFC-1.0 with correct escaping and a work budget.

pyld's context caches are dictionaries and ``cachetools`` LRU caches shared between calls; step 3 runs under one
lock so that two threads never mutate them at once. pyld is pure Python, so under the GIL the lock costs no
parallelism; the canonicalization (step 6, where a poison graph would spend its time) runs outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pyld import jsonld

from credentials import jsonld_rdf
from credentials.errors import CredentialError, ParsingError, UnsafeJsonLdError
from credentials.jsonld_loader import JsonLdLoader
from credentials.jsonld_safety import check_expanded, prepare
from credentials.rdfc import Quad, WorkBudget, canonicalize

_PYLD_LOCK = threading.Lock()


def canonize(document: Mapping[str, Any], loader: JsonLdLoader, *, budget: WorkBudget | None = None) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document; raises a :class:`ParsingError` subclass."""
    return canonicalize(to_quads(document, loader), budget=budget)


def to_quads(document: Mapping[str, Any], loader: JsonLdLoader) -> list[Quad]:
    """The RDF statements of a JSON-LD document, after the safety checks of steps 1-4."""
    return jsonld_rdf.to_quads(expand(document, loader))


def expand(document: Mapping[str, Any], loader: JsonLdLoader) -> list[Any]:
    """Safely expanded JSON-LD (steps 1-4), for callers that read terms by IRI."""
    if not isinstance(document, Mapping):
        raise ParsingError("a JSON-LD document must be a JSON object")
    loader.check_contexts(document)
    prepared = prepare(dict(document))
    processor = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped)
    with _PYLD_LOCK:
        expanded: list[Any] = _pyld(lambda: processor.expand(prepared, loader.pyld_options()))
    check_expanded(expanded)
    return expanded


def _refuse_dropped(expanded_property: str | None) -> None:
    name = "a reserved keyword" if expanded_property is None else repr(expanded_property[:80])
    raise UnsafeJsonLdError(f"term {name} is not defined by the document's contexts; it would not be signed")


def _pyld(call: Any) -> Any:
    """Run a pyld call, turning its failures into our typed errors (never a 500)."""
    try:
        return call()
    except RecursionError as exc:
        raise ParsingError("JSON-LD document nests too deeply") from exc
    except Exception as exc:
        ours = _our_error(exc)
        if ours is exc:
            raise
        if ours is not None:
            # pyld wrapped our error in one of its own; pyld's wrapper adds nothing for the caller.
            raise ours from None
        code = getattr(exc, "code", None)
        detail = f": {code}" if isinstance(code, str) else ""
        raise ParsingError(f"JSON-LD processing failed{detail}") from exc


def _our_error(exc: BaseException) -> CredentialError | None:
    """pyld wraps loader and hook exceptions in its own; find ours in the chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, CredentialError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
