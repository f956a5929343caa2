"""Expanded JSON-LD -> RDF quads (JSON-LD 1.1 API §8.5, "Deserialize JSON-LD to RDF"), in one linear walk.

Why not pyld's ``to_rdf``: it first builds a node map and adds each value with a duplicate check against every
value already there, so n values of one property cost n²/2 comparisons (3,000 array items take 4 s, 10,000 take
40 s: a cheap denial of service, SECURITY V12). It also expands the already expanded document a second time.
RDF is a set and RDFC-1.0 drops duplicate quads itself, so this walk emits each statement as it meets it; the
result is the same dataset (``tests/credentials/test_jsonld_rdf.py`` compares it with pyld's on many documents).

Input must have passed :func:`credentials.jsonld_safety.check_expanded`; what the node map would silently drop
(a free-floating value) is refused here. Literals follow pyld and jsonld.js: booleans and integers as
``xsd:boolean`` / ``xsd:integer``, other numbers in the canonical ``xsd:double`` form (``1.5E0``), ``@json`` in
JCS form, and ``@direction`` as an ``https://www.w3.org/ns/i18n#<language>_<direction>`` datatype (the
"i18n-datatype" mode of the Digital Bazaar cryptosuite).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from c14n.Canonicalize import canonicalize as jcs

from credentials.errors import UnsafeJsonLdError
from credentials.nquads import RDF_LANGSTRING, XSD_STRING, Quad, Term

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_BOOLEAN, XSD_INTEGER, XSD_DOUBLE = XSD + "boolean", XSD + "integer", XSD + "double"
RDF_JSON = RDF + "JSON"
I18N = "https://www.w3.org/ns/i18n#"
_TYPE, _FIRST, _REST, _NIL = (Term("iri", RDF + name) for name in ("type", "first", "rest", "nil"))
# A decimal number that Python's float() and JavaScript's parseFloat() read the same way.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def to_quads(expanded: list[Any]) -> list[Quad]:
    """The RDF statements of an expanded JSON-LD document (blank node labels are arbitrary but consistent)."""
    writer = _Writer()
    writer.nodes(expanded, None)
    if not writer.quads:
        # An empty canonical form would sign nothing: any document that says nothing would carry the signature.
        raise UnsafeJsonLdError("the document gives no statement: there is nothing to sign")
    return writer.quads


def canonical_double(value: float) -> str:
    """``xsd:double`` canonical form as JSON-LD writes it: ``1.5E0``, ``1.0E21``, ``1.0E-1``."""
    return re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", f"{value:1.15E}")


class _Writer:
    def __init__(self) -> None:
        self.quads: list[Quad] = []
        self.blank: dict[str, Term] = {}
        self.generated = 0

    def fresh(self) -> Term:
        self.generated += 1
        return Term("blank", f"g{self.generated}")

    def identify(self, identifier: str) -> Term:
        """An IRI, or the blank node an input label (``_:x``) stands for; labels are kept apart from ours."""
        if not identifier.startswith("_:"):
            return Term("iri", identifier)
        term = self.blank.get(identifier)
        if term is None:
            term = self.blank[identifier] = Term("blank", f"i{len(self.blank)}")
        return term

    def emit(self, subject: Term, predicate: Term, object_: Term, graph: Term | None) -> None:
        self.quads.append(Quad(subject, predicate, object_, graph))

    def nodes(self, items: list[Any], graph: Term | None) -> None:
        for item in items:
            if "@value" in item or "@list" in item:
                raise UnsafeJsonLdError("free-floating value would be dropped, not signed")
            self.node(item, graph)

    def node(self, node: Mapping[str, Any], graph: Term | None) -> Term:
        subject = self.identify(node["@id"]) if "@id" in node else self.fresh()
        for type_ in node.get("@type", []):
            self.emit(subject, _TYPE, self.identify(type_), graph)
        for key, values in node.items():
            if key in ("@id", "@type"):
                continue
            if key == "@graph":
                self.nodes(values, subject)
            elif key == "@included":
                self.nodes(values, graph)
            elif key == "@reverse":
                for property_, items in values.items():
                    for item in items:
                        self.emit(self.node(item, graph), Term("iri", property_), subject, graph)
            else:
                predicate = Term("iri", key)
                for value in values:
                    self.emit(subject, predicate, self.object(value, graph), graph)
        return subject

    def object(self, value: Mapping[str, Any], graph: Term | None) -> Term:
        if "@value" in value:
            return literal(value)
        if "@list" in value:
            return self.list(value["@list"], graph)
        return self.node(value, graph)

    def list(self, items: list[Any], graph: Term | None) -> Term:
        head = current = self.fresh() if items else _NIL
        for index, item in enumerate(items):
            following = self.fresh() if index < len(items) - 1 else _NIL
            self.emit(current, _FIRST, self.object(item, graph), graph)
            self.emit(current, _REST, following, graph)
            current = following
        return head


def literal(value: Mapping[str, Any]) -> Term:
    """The RDF literal of an expanded value object (JSON-LD 1.1 API §8.5.3, "Object to RDF Conversion")."""
    raw, datatype = value["@value"], value.get("@type")
    if datatype == "@json":
        return Term("literal", jcs(raw).decode("utf-8"), RDF_JSON)
    if isinstance(raw, bool):
        return Term("literal", "true" if raw else "false", datatype or XSD_BOOLEAN)
    if isinstance(raw, float) and not raw.is_integer():
        return Term("literal", canonical_double(raw), datatype or XSD_DOUBLE)
    if datatype == XSD_DOUBLE:
        return Term("literal", canonical_double(_as_double(raw)), XSD_DOUBLE)
    if isinstance(raw, int | float):
        if abs(raw) >= 1e21:
            return Term("literal", canonical_double(float(raw)), datatype or XSD_DOUBLE)
        return Term("literal", str(int(raw)), datatype or XSD_INTEGER)
    if not isinstance(raw, str):
        raise UnsafeJsonLdError("a value must be a string, a number or a boolean")
    if "@direction" in value:
        return Term("literal", raw, f"{I18N}{value.get('@language', '')}_{value['@direction']}")
    if "@language" in value:
        return Term("literal", raw, RDF_LANGSTRING, value["@language"])
    return Term("literal", raw, datatype or XSD_STRING)


def _as_double(raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str) and _DECIMAL.fullmatch(raw) and abs(float(raw)) != float("inf"):
        return float(raw)
    raise UnsafeJsonLdError(f"{str(raw)[:40]!r} is not a number that implementations read alike as xsd:double")
