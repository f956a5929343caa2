"""JSON-LD document -> canonical N-Quads, the transformation under ``eddsa-rdfc-2022``.

Pipeline (each step refuses rather than guesses):
1. :meth:`JsonLdLoader.check_contexts` - only bundled context URLs, before any loader runs.
2. :func:`credentials.jsonld_safety.prepare` - input pyld would drop or other implementations would read
   differently.
3. pyld expansion with our loader, ``base=None``, an ``on_property_dropped`` hook that refuses undefined terms and
   ``keepFreeFloatingNodes`` (pyld would silently drop a bare ``{"@id"}`` at the top level or in a graph).
4. :func:`credentials.jsonld_safety.check_expanded` - relative or malformed IRIs, ``@index``, nodes in a graph
   position that give no statement (jsonld.js safe mode's "object with only @id" and "empty object").
5. :func:`credentials.jsonld_rdf.to_quads` - expanded JSON-LD to RDF in linear time (pyld's is quadratic); an
   empty result (nothing to sign) is refused.
6. :func:`credentials.rdfc.canonicalize` - RDFC-1.0 with correct escaping and a work budget.

pyld's context caches are dictionaries and ``cachetools`` LRU caches shared between calls; step 3 runs under one
lock so that two threads never mutate them at once. pyld is pure Python, so under the GIL the lock costs no
parallelism; the canonicalization (step 6, where a poison graph would spend its time) runs outside it.

:func:`canonize` first tries the compiled path (:mod:`credentials.jsonld_compiled` over the term tables of
:mod:`credentials.jsonld_frames`, then :mod:`credentials.rdfc_unique`), about ten times faster for a credential.
It answers only when it is sure to give the same bytes as the pipeline above, which otherwise runs and stays the
reference (:func:`canonize_compiled` and :func:`canonize_reference` run one path each);
``tests/credentials/test_jsonld_compiled.py`` holds the two to that.
Only :class:`JsonLdLoader` itself gets the compiled path: a subclass that overrides how contexts are loaded
(counting or untagged loaders in the tests and the benchmark) always runs the reference pipeline.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from pyld import jsonld

from credentials import jsonld_compiled, jsonld_rdf, rdfc_unique
from credentials.errors import CredentialError, ParsingError, UnsafeJsonLdError
from credentials.jsonld_frames import PYLD_LOCK as _PYLD_LOCK
from credentials.jsonld_frames import Fallback, FrameTable
from credentials.jsonld_loader import JsonLdLoader
from credentials.jsonld_safety import check_expanded, prepare
from credentials.rdfc import Quad, WorkBudget, canonicalize

_TABLES: weakref.WeakKeyDictionary[JsonLdLoader, FrameTable | None] = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()
_MAX_PROOF_CONFIGS = 1_024
_LABEL = re.compile(r"_:c14n(\d+)")


def canonize(document: Mapping[str, Any], loader: JsonLdLoader, *, budget: WorkBudget | None = None) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document; raises a :class:`ParsingError` subclass."""
    try:
        return canonize_compiled(document, loader, budget=budget)
    except Fallback:
        return canonize_reference(document, loader, budget=budget)


def canonize_compiled(
    document: Mapping[str, Any], loader: JsonLdLoader, *, budget: WorkBudget | None = None
) -> str:
    """:func:`canonize` through the compiled path only; raises :class:`Fallback` where it cannot be sure."""
    table = _table(loader)
    if table is None:
        raise Fallback("this loader changes how contexts load; only the reference pipeline uses it")
    return rdfc_unique.canonicalize(jsonld_compiled.to_quads(document, table), budget or _DEFAULT_BUDGET)


def canonize_reference(
    document: Mapping[str, Any], loader: JsonLdLoader, *, budget: WorkBudget | None = None
) -> str:
    """:func:`canonize` through the reference pipeline only (pyld expansion, safety checks, RDFC-1.0)."""
    return canonicalize(to_quads(document, loader), budget=budget)


def canonize_proof_config(
    config: Mapping[str, Any], loader: JsonLdLoader, *, budget: WorkBudget | None = None
) -> str:
    """:func:`canonize` for a proof configuration, remembered per loader.

    Issuing to a roster signs every credential with the same configuration (key, purpose, ``created`` to the
    second), and a verifier sees the same few issuers again and again. Only configurations made of strings and
    lists of strings are remembered, keyed by their exact JSON value, and only results of the compiled path (which
    never needs the budgeted part of RDFC-1.0); a smaller budget than the cached result needs still refuses.
    """
    table = _table(loader)
    key = _config_key(config)
    if table is None or key is None:
        return canonize(config, loader, budget=budget)
    budget = budget or _DEFAULT_BUDGET
    found = table.proof_configs.get(key)
    if found is None:
        try:
            text = rdfc_unique.canonicalize(jsonld_compiled.to_quads(config, table), budget)
        except Fallback:
            return canonize_reference(config, loader, budget=budget)
        labels = {int(label) for label in _LABEL.findall(text)}
        found = (text, text.count("\n"), len(labels))
        with _TABLES_LOCK:  # eviction iterates the dict: not while another thread inserts
            if len(table.proof_configs) >= _MAX_PROOF_CONFIGS:
                table.proof_configs.pop(next(iter(table.proof_configs)), None)
            table.proof_configs[key] = found
    text, statements, blank_nodes = found
    if statements > budget.max_quads or blank_nodes > budget.max_blank_nodes:
        return canonize_reference(config, loader, budget=budget)
    return text


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
        # keepFreeFloatingNodes: pyld would otherwise drop a bare {"@id"} at the top level or in a graph without a
        # word; check_expanded refuses it instead (jsonld.js safe mode: "object with only @id").
        options = {**loader.pyld_options(), "keepFreeFloatingNodes": True}
        expanded: list[Any] = _pyld(lambda: processor.expand(prepared, options))
    check_expanded(expanded)
    return expanded


_DEFAULT_BUDGET = WorkBudget()


def _table(loader: JsonLdLoader) -> FrameTable | None:
    """The loader's term tables, or ``None`` for a loader the compiled path does not trust (see above)."""
    if not isinstance(loader, JsonLdLoader):
        return None
    try:
        return _TABLES[loader]
    except KeyError:
        pass
    cls = type(loader)
    trusted = cls.__call__ is JsonLdLoader.__call__ and cls.pyld_options is JsonLdLoader.pyld_options
    with _TABLES_LOCK:
        if loader not in _TABLES:
            _TABLES[loader] = FrameTable(loader) if trusted else None
        return _TABLES[loader]


def _config_key(config: Mapping[str, Any]) -> frozenset[tuple[str, Any]] | None:
    items = []
    for name, value in config.items():
        if type(name) is not str:
            return None
        if type(value) is list and all(type(item) is str for item in value):
            value = tuple(value)
        elif type(value) is not str:
            return None
        items.append((name, value))
    return frozenset(items)


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
