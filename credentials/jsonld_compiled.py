"""The compiled path from compact JSON-LD to RDF statements, for documents the bundled contexts fully define.

Why: the reference path (:mod:`credentials.jsonld_canon`) copies the document, expands it with pyld, checks the
expanded form and walks it again into quads; for a credential this costs about a millisecond, nearly all of it
pyld. This walk reads the compact document once and prints each statement directly (N-Quads terms as strings),
looking terms up in the frames of :mod:`credentials.jsonld_frames`. It follows pyld's expansion algorithm step for
step (scoped contexts, the revert of type-scoped contexts at nested nodes, ``@type`` values expanded against the
context before type-scoped contexts, ``@id``/``@vocab``/datatype coercion, ``@set`` and ``@list`` containers).

It only says yes when it is sure. Anything else raises :class:`~credentials.jsonld_frames.Fallback` and the
reference path decides, with its own errors: an undefined term, a keyword other than ``@context``, ``@id`` and
``@type`` (value objects, ``@graph``, ``@included``, ``@reverse``, ``@nest``...), other containers, ``@json``,
language or direction defaults, ``null``, nested arrays, a relative IRI, a number the safety rules refuse, an
unknown or inline context, a document larger or deeper than a fraction of the reference limits, a top-level
node with nothing to sign. The safety rules of :mod:`credentials.jsonld_safety` thus hold here by construction:
every member of the input becomes a statement or the document falls back. ``tests/credentials`` compare the two
paths on generated documents byte for byte (``test_jsonld_compiled.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credentials.errors import UnsafeJsonLdError
from credentials.jsonld_frames import Fallback, Frame, FrameTable, Prop
from credentials.jsonld_rdf import XSD_DOUBLE, literal
from credentials.nquads import RDF_LANGSTRING, XSD_STRING, escape_literal, serialize_term

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE, RDF_FIRST, RDF_REST, RDF_NIL = (f"<{RDF}{name}>" for name in ("type", "first", "rest", "nil"))
# Well inside jsonld_safety's limits (50,000 values, 100 levels), so the reference never refuses on size what
# this path accepted.
MAX_VALUES = 20_000
MAX_DEPTH = 40
_MAX_SAFE_INTEGER = 2**53 - 1

Quad = tuple[str, str, str]
"""Subject, predicate, object as N-Quads terms (default graph). Blank nodes are ``_:`` + a local label."""


def to_quads(document: Mapping[str, Any], table: FrameTable) -> list[Quad]:
    """The statements of ``document``, or :class:`Fallback`."""
    if not isinstance(document, Mapping):
        raise Fallback("not a JSON object")
    walk = _Walk(table)
    walk.node(document, table.initial, 0)
    if not walk.quads:
        raise Fallback("nothing to sign: the reference path decides whether that is an error")
    return walk.quads


class _Walk:
    __slots__ = ("table", "quads", "labels", "generated", "values")

    def __init__(self, table: FrameTable) -> None:
        self.table = table
        self.quads: list[Quad] = []
        self.labels: dict[str, str] = {}
        self.generated = 0
        self.values = 0

    def fresh(self) -> str:
        self.generated += 1
        return f"_:g{self.generated}"

    def identify(self, iri: str) -> str:
        """An IRI term, or the blank node an input label stands for (kept apart from generated labels)."""
        if iri[:2] != "_:":
            return f"<{iri}>"
        label = self.labels.get(iri)
        if label is None:
            label = self.labels[iri] = f"_:i{len(self.labels)}"
        return label

    def node(self, element: Mapping[str, Any], frame: Frame, depth: int) -> str:
        """Emit a node object's statements in ``frame`` (its entry context); return its subject term."""
        if depth > MAX_DEPTH:
            raise Fallback("deeply nested")
        self.values += 1 + len(element)  # counted generously: each value again where it is read
        if "@context" in element:
            frame = frame.embedded(self._context_urls(element["@context"]))
        type_scoped = frame
        expand = frame.expand_key
        if any(type(key) is not str for key in element):
            raise Fallback("non-string key")
        kinds = [expand(key) for key in element]
        if "@type" in kinds:
            frame = _apply_type_scoped(element, frame)
            if frame is not type_scoped:
                kinds = [frame.expand_key(key) for key in element]
        subject = None
        types: list[str] = []
        properties: list[tuple[Prop, Any]] = []
        for (key, value), expanded in zip(element.items(), kinds, strict=True):
            if key == "@context":
                continue
            if expanded == "@id":
                if subject is not None or not isinstance(value, str):
                    raise Fallback("colliding or non-string @id")
                subject = self.identify(frame.id_iri(value))
            elif expanded == "@type":
                if isinstance(value, list):
                    self.values += len(value)
                for type_ in value if isinstance(value, list) else (value,):
                    if not isinstance(type_, str):
                        raise Fallback("non-string @type")
                    types.append(self.identify(type_scoped.vocab_iri(type_)))
            else:
                properties.append((frame.prop(key), value))
        if self.values > MAX_VALUES:
            raise Fallback("large document")
        if subject is None:
            subject = self.fresh()
        quads = self.quads
        for type_ in types:
            quads.append((subject, RDF_TYPE, type_))
        for prop, value in properties:
            if prop.is_list:
                quads.append((subject, prop.predicate, self.list(value, prop, depth + 1)))
            elif isinstance(value, list):
                self.values += 1
                for item in value:
                    if isinstance(item, list):
                        raise Fallback("nested array")
                    quads.append((subject, prop.predicate, self.object(item, prop, depth + 1)))
            else:
                quads.append((subject, prop.predicate, self.object(value, prop, depth)))
        return subject

    def object(self, value: Any, prop: Prop, depth: int) -> str:
        """The object term of one value of ``prop`` (JSON-LD 1.1 API value expansion + object to RDF)."""
        self.values += 1
        if self.values > MAX_VALUES:
            raise Fallback("large document")
        if isinstance(value, str):
            coercion = prop.coercion
            if coercion is None:
                return f'"{escape_literal(value)}"'
            if coercion == "@id":
                return self.identify(prop.term_frame.id_iri(value))
            if coercion == "@vocab":
                return self.identify(prop.term_frame.vocab_iri(value))
            if coercion == XSD_STRING:
                return f'"{escape_literal(value)}"'
            if coercion in (XSD_DOUBLE, RDF_LANGSTRING):
                raise Fallback("xsd:double and rdf:langString coercions are left to the reference path")
            return f'"{escape_literal(value)}"^^<{coercion}>'
        if isinstance(value, dict):
            return self.node_value(value, prop, depth + 1)
        if isinstance(value, bool | int | float):
            return _number(value, prop.datatype)
        raise Fallback("null, nested arrays and non-JSON values are left to the reference path")

    def node_value(self, value: dict[str, Any], prop: Prop, depth: int) -> str:
        term_frame = prop.term_frame
        # pyld reads a small object as a value object in the term context (type-scoped terms still apply).
        if len(value) <= 2 and any(term_frame.expand_key(key) == "@value" for key in value if type(key) is str):
            raise Fallback("value object")
        reference = len(value) == 1 and term_frame.expand_key(next(iter(value))) == "@id"
        return self.node(value, term_frame.node_entry(prop.key, reference), depth)

    def list(self, value: Any, prop: Prop, depth: int) -> str:
        """An ``@list`` container value as an RDF collection."""
        items = value if isinstance(value, list) else [value]
        self.values += 1
        terms = []
        for item in items:
            if isinstance(item, list):
                raise Fallback("list of lists")
            terms.append(self.object(item, prop, depth + 1))
        if not terms:
            return RDF_NIL
        head = current = self.fresh()
        for index, term in enumerate(terms):
            following = self.fresh() if index < len(terms) - 1 else RDF_NIL
            self.quads.append((current, RDF_FIRST, term))
            self.quads.append((current, RDF_REST, following))
            current = following
        return head

    def _context_urls(self, value: Any) -> tuple[str, ...]:
        urls = tuple(value) if isinstance(value, list) else (value,)
        if not urls or any(not isinstance(url, str) or url not in self.table.allowed for url in urls):
            raise Fallback("an inline, empty, unknown or test-only @context")
        return urls


def _apply_type_scoped(element: Mapping[str, Any], frame: Frame) -> Frame:
    """pyld ``_prepare_nested_context``: apply the contexts of the node's types, in sorted key and type order."""
    type_scoped = frame
    for key in sorted(element):
        if frame.expand_key(key) != "@type":
            continue
        value = element[key]
        types = [type_ for type_ in (value if isinstance(value, list) else [value]) if isinstance(type_, str)]
        for type_ in sorted(types):
            frame = frame.typed(type_scoped, type_)
    return frame


def _number(value: bool | int | float, datatype: str | None) -> str:
    """A number or boolean literal, normalized as :func:`credentials.jsonld_safety.prepare` does."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Fallback("not a finite number")
        if value.is_integer() and abs(value) < 1e21:
            value = int(value)
        elif abs(value) < 1e-6:
            raise Fallback("tiny number")
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise Fallback("integer beyond 2**53")
        value = int(value)
    expanded: dict[str, Any] = {"@value": value}
    if datatype is not None:
        expanded["@type"] = datatype
    try:
        return serialize_term(literal(expanded))
    except UnsafeJsonLdError as exc:
        raise Fallback("number the reference path refuses") from exc
