"""A small N-Quads reader for tests: turns the W3C RDFC-1.0 test inputs into :class:`credentials.rdfc.Quad`s.

The library never parses N-Quads (it canonicalizes what pyld's ``to_rdf`` produces), so this lives with the tests.
It understands what the test suite uses: IRIs, blank nodes, literals with ECHAR/UCHAR escapes, datatypes and
language tags, and an optional graph name.
"""

from __future__ import annotations

import re

from credentials.rdfc import RDF_LANGSTRING, XSD_STRING, Quad, Term

_IRI = r"<((?:[^>\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*)>"
_BLANK = r"_:([A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)"
_LITERAL = r'"((?:[^"\\]|\\.)*)"(?:\^\^' + _IRI + r"|@([A-Za-z]+(?:-[A-Za-z0-9]+)*))?"
_TERM = re.compile(rf"\s*(?:{_IRI}|{_BLANK}|{_LITERAL})")
_UNESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ECHAR = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) or match.group(2):
            return chr(int(match.group(1) or match.group(2), 16))
        return _ECHAR[match.group(3)]

    return _UNESCAPE.sub(replace, text)


def _term(match: re.Match[str]) -> Term:
    iri, blank, lexical, datatype, language = match.groups()
    if iri is not None:
        return Term("iri", _unescape(iri))
    if blank is not None:
        return Term("blank", blank)
    if language is not None:
        return Term("literal", _unescape(lexical), RDF_LANGSTRING, language)
    return Term("literal", _unescape(lexical), _unescape(datatype) if datatype else XSD_STRING)


def parse_nquads(text: str) -> list[Quad]:
    """Parse an N-Quads document; raises ``ValueError`` on a line it does not understand."""
    quads = []
    for number, line in enumerate(text.splitlines(), 1):
        rest = line.strip()
        if not rest or rest.startswith("#"):
            continue
        terms = []
        while not rest.startswith("."):
            match = _TERM.match(rest)
            if match is None or len(terms) == 4:
                raise ValueError(f"line {number}: cannot parse {line!r}")
            terms.append(_term(match))
            rest = rest[match.end() :].lstrip()
        if len(terms) not in (3, 4):
            raise ValueError(f"line {number}: expected 3 or 4 terms")
        quads.append(Quad(*terms))
    return quads
