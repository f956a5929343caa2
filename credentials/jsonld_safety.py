"""Refuse JSON-LD that pyld would silently change, so that what is signed is exactly what is shown.

pyld drops an undefined term, a relative or malformed ``@id``, a ``{"@value": null}`` or a lone ``@language``
without a word, and resolves relative IRIs against ``http://example.org/base/`` unless told otherwise. A dropped
member is not signed: anyone can then change it without breaking the proof. jsonld.js has a "safe mode" that the
Digital Bazaar cryptosuites turn on; this module is our equivalent, in two passes:

- :func:`prepare` walks the compact input before pyld sees it: refuses what pyld would drop without trace
  (``@value: null``, ``@language`` without ``@value``, non-object ``@graph`` members), numbers that another
  implementation would read differently (NaN, infinities, integers beyond 2**53, non-zero numbers below 1e-6)
  and lone surrogates; it returns
  a copy in which integral floats (``1.0``) are integers, as JSON-LD and JavaScript read them.
- :func:`check_expanded` walks pyld's expanded output: every node ``@id``, ``@type`` and property must be an
  absolute IRI (or blank node identifier where RDF allows one), language tags well formed, no ``@index``; and
  a node in a graph position (the top level, an ``@graph`` member - also of a ``@graph`` container such as
  ``proof`` or ``verifiableCredential`` - or an ``@included`` member) must say something: a node there with
  nothing but an ``@id`` (a bare reference to ``"proof": "did:example:x"``, a document that is only an ``id``)
  or with nothing at all gives no statement, so its ``@id`` would not be signed. jsonld.js safe mode refuses
  the same nodes ("object with only @id", "empty object"); pyld keeps them only because
  :mod:`credentials.jsonld_canon` expands with ``keepFreeFloatingNodes`` (by default it drops them silently).

Undefined terms are caught during expansion itself, through pyld's ``on_property_dropped`` hook (see
:mod:`credentials.jsonld_canon`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from credentials.errors import UnsafeJsonLdError

MAX_DEPTH = 100
MAX_VALUES = 50_000
_MAX_SAFE_INTEGER = 2**53 - 1
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\]*")
_BLANK = re.compile(r"_:\S+")
_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NODE_KEYWORDS = {"@id", "@type", "@graph", "@included", "@reverse"}


def prepare(document: Any, *, max_values: int = MAX_VALUES) -> Any:
    """A checked copy of compact JSON-LD input (``@context`` values are copied as they are).

    More than ``max_values`` JSON values, or nesting deeper than :data:`MAX_DEPTH`, is refused before pyld
    spends time on it: no credential is that large, and canonicalization would refuse its quads anyway.
    """
    budget = [max_values]
    return _prepare(document, 0, budget)


def _prepare(document: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise UnsafeJsonLdError("document has too many values")
    if depth > MAX_DEPTH:
        raise UnsafeJsonLdError(f"document nests deeper than {MAX_DEPTH} levels")
    if isinstance(document, dict):
        _check_object(document)
        return {
            _checked_string(key): value if key == "@context" else _prepare(value, depth + 1, budget)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_prepare(item, depth + 1, budget) for item in document]
    if isinstance(document, str):
        return _checked_string(document)
    if isinstance(document, float):
        return _number(document)
    if isinstance(document, bool) or document is None:
        return document
    if isinstance(document, int):
        if abs(document) > _MAX_SAFE_INTEGER:
            raise UnsafeJsonLdError("integers beyond 2**53 are read differently by other implementations")
        return document
    raise UnsafeJsonLdError(f"unexpected JSON value of type {type(document).__name__}")


def _check_object(node: Mapping[str, Any]) -> None:
    if "@value" in node and node["@value"] is None and "@json" not in (node.get("@type"), node.get("type")):
        # With "@type": "@json", null is the JSON literal "null" (signed, as in jsonld.js); otherwise it is dropped.
        raise UnsafeJsonLdError('a {"@value": null} would be dropped, not signed')
    if "@value" not in node and ("@language" in node or "@direction" in node):
        raise UnsafeJsonLdError("@language or @direction without @value would be dropped, not signed")
    graph = node.get("@graph")
    if graph is not None and any(not isinstance(item, dict) for item in _as_list(graph)):
        raise UnsafeJsonLdError("a @graph member that is not an object would be dropped, not signed")


def _checked_string(text: str) -> str:
    if _SURROGATE.search(text):
        raise UnsafeJsonLdError("strings must not contain lone UTF-16 surrogates")
    return text


def _number(value: float) -> float | int:
    if not math.isfinite(value):
        raise UnsafeJsonLdError("NaN and infinities are not JSON numbers")
    if value.is_integer() and abs(value) < 1e21:
        if abs(value) > _MAX_SAFE_INTEGER:
            raise UnsafeJsonLdError("integers beyond 2**53 are read differently by other implementations")
        return int(value)
    if abs(value) < 1e-6:
        # jsonld.js writes such a number as "0"^^xsd:integer (String(1e-7) has no "."), so 1e-7 and 0 would
        # share a signature there; refuse rather than sign something another verifier reads as zero.
        raise UnsafeJsonLdError("non-zero numbers below 1e-6 are not portable; send them as strings")
    return value


def check_expanded(expanded: list[Any]) -> None:
    """Refuse expanded JSON-LD from which ``to_rdf`` would drop or mangle a statement."""
    stack: list[tuple[Any, bool]] = [(item, True) for item in expanded]  # (item, in a graph position)
    while stack:
        item, in_graph = stack.pop()
        if not isinstance(item, dict) or (in_graph and ("@value" in item or "@list" in item)):
            raise UnsafeJsonLdError("free-floating value would be dropped, not signed")
        if "@index" in item:
            raise UnsafeJsonLdError("@index values are not part of the signed statements")
        if "@value" in item:
            _check_value(item)
        elif "@list" in item:
            stack.extend((member, False) for member in item["@list"])
        else:
            if in_graph and not _says_something(item):
                raise UnsafeJsonLdError(_SILENT_NODE)
            stack.extend(_node_children(item))


_SILENT_NODE = (
    "a node with nothing but an @id (or nothing at all) at the top level or in a graph gives no statement; "
    "its @id would not be signed"
)


def _says_something(node: Mapping[str, Any]) -> bool:
    """Whether a node's ``@id`` is in a statement (as subject, reverse object or graph name), or, for a node
    without ``@id``, whether it holds anything at all (``@included`` members are checked on their own)."""
    for key, values in node.items():
        if key == "@reverse":
            if any(values.values()):
                return True
        elif key not in ("@id", "@included") and values:
            return True
    return "@id" not in node and bool(node.get("@included"))


def _check_value(value: Mapping[str, Any]) -> None:
    datatype = value.get("@type")
    if datatype is not None and datatype != "@json":
        _check_iri(datatype, "a value's @type")
    language = value.get("@language")
    if language is not None and not (isinstance(language, str) and _LANGUAGE.fullmatch(language)):
        raise UnsafeJsonLdError(f"invalid language tag {_shorten(language)!r}")
    if value.get("@direction", "ltr") not in ("ltr", "rtl"):
        raise UnsafeJsonLdError("@direction must be 'ltr' or 'rtl'")


def _node_children(node: Mapping[str, Any]) -> list[tuple[Any, bool]]:
    if "@id" in node:
        _check_iri(node["@id"], "@id", blank_ok=True)
    for type_ in node.get("@type", []):
        _check_iri(type_, "@type", blank_ok=True)
    children: list[tuple[Any, bool]] = [(member, True) for member in (*node.get("@graph", []),
                                                                     *node.get("@included", []))]
    reverse = node.get("@reverse", {})
    for key, values in [*node.items(), *reverse.items()]:
        if key in _NODE_KEYWORDS:
            continue
        if key.startswith("@"):
            raise UnsafeJsonLdError(f"unexpected keyword {key} in a node")
        _check_iri(key, "property")
        children.extend((value, False) for value in values)
    return children


def _check_iri(value: Any, what: str, *, blank_ok: bool = False) -> None:
    if isinstance(value, str) and (_IRI.fullmatch(value) or (blank_ok and _BLANK.fullmatch(value))):
        return
    raise UnsafeJsonLdError(f"{what} {_shorten(value)!r} is not an absolute IRI; it would not be signed")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
