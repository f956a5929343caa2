r"""Canonical N-Quads: the RDF terms and quads of :mod:`credentials.rdfc` and their one canonical text form.

RDFC-1.0 §4.3 and RDF 1.2 N-Quads §canonical-quads: terms are separated by one space and a line ends with
`` .`` and a newline. In literals, backspace, tab, newline, form feed, carriage return, ``"`` and ``\`` are written
as ECHAR (``\b \t \n \f \r \" \\``) and the other characters in U+0000–U+001F and U+007F as ``\u00XX``
(upper-case hex); nothing else is escaped. pyld's own serializer escapes only ``\t \n \r \" \\``, which is why
this module exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_ECHAR = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_LITERAL_ESCAPES = {c: _ECHAR.get(chr(c), f"\\u{c:04X}") for c in (*range(0x20), 0x22, 0x5C, 0x7F)}
# IRIs with these characters are not valid IRIs; the JSON-LD layer refuses them. Escaping them as rdf-canonize
# does keeps the serialization unambiguous should one ever reach this module.
_IRI_ESCAPES = {c: f"\\u{c:04X}" for c in (*range(0x21), *map(ord, '<>"{}|^`\\'))}


@dataclass(frozen=True, slots=True)
class Term:
    """An RDF term. Blank node ``value``s are labels without the ``_:`` prefix."""

    kind: Literal["iri", "blank", "literal"]
    value: str
    datatype: str = XSD_STRING
    language: str = ""


@dataclass(frozen=True, slots=True)
class Quad:
    """A quad; ``graph`` is ``None`` for the default graph."""

    subject: Term
    predicate: Term
    object: Term
    graph: Term | None = None


def escape_literal(value: str) -> str:
    """Escape a literal's lexical form for canonical N-Quads."""
    return value.translate(_LITERAL_ESCAPES)


def serialize_term(term: Term, label: Callable[[str], str] | None = None) -> str:
    """Canonical N-Quads form of one term; ``label`` renames blank nodes (the value is used otherwise)."""
    if term.kind == "iri":
        return f"<{term.value.translate(_IRI_ESCAPES)}>"
    if term.kind == "blank":
        return "_:" + (label(term.value) if label else term.value)
    text = f'"{escape_literal(term.value)}"'
    if term.datatype == RDF_LANGSTRING:
        return text + "@" + term.language
    if term.datatype != XSD_STRING:
        return text + f"^^<{term.datatype.translate(_IRI_ESCAPES)}>"
    return text


def serialize_quad(quad: Quad, label: Callable[[str], str] | None = None) -> str:
    """One canonical N-Quads line, newline included."""
    parts = [serialize_term(quad.subject, label), serialize_term(quad.predicate, label)]
    parts.append(serialize_term(quad.object, label))
    if quad.graph is not None:
        parts.append(serialize_term(quad.graph, label))
    return " ".join(parts) + " .\n"
