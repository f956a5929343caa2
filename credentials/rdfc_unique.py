"""RDFC-1.0 for the common case: every blank node has a unique first-degree hash (or there are none).

Why a second implementation: :mod:`credentials.rdfc` works on :class:`~credentials.nquads.Term` objects and runs
the whole algorithm; for a credential that is most of the remaining cost once expansion is compiled. Credentials
and proof configurations rarely have blank nodes that look alike, and then RDFC-1.0 stops after step 4
(https://www.w3.org/TR/rdf-canon/#canon-algo-algo): each blank node is labelled in the order of the hash of its
own statements, and with no blank nodes at all the canonical form is the sorted statements. This module does
exactly that on statements already printed as N-Quads terms (:data:`credentials.jsonld_compiled.Quad`), and
raises :class:`~credentials.jsonld_frames.Fallback` otherwise, so that :mod:`credentials.rdfc` (the reference,
with the work budget for Hash N-Degree Quads) decides:

- two blank nodes share a first-degree hash (step 5 would be needed);
- characters beyond the Basic Multilingual Plane appear together with characters in U+E000-U+FFFF: only then
  can rdf-canonize's UTF-16 order differ from the code point order, and the reference checks and refuses;
- a lone surrogate appears anywhere (the safety rules refuse it);
- the dataset exceeds the budget's statement or blank node limits (the reference raises the error).
"""

from __future__ import annotations

import re
from hashlib import sha256

from credentials.jsonld_compiled import Quad
from credentials.jsonld_frames import Fallback
from credentials.rdfc import WorkBudget

_ASTRAL_LEAD = re.compile(b"[\xf0-\xf4]")
_HIGH_BMP_LEAD = re.compile(b"[\xee\xef]")


def canonicalize(quads: list[Quad], budget: WorkBudget) -> str:
    """The canonical N-Quads of a default-graph dataset whose blank nodes have unique first-degree hashes."""
    unique = list(dict.fromkeys(quads))  # a dataset is a set
    if len(unique) > budget.max_quads:
        raise Fallback("more statements than the budget allows")
    mentions: dict[str, list[Quad]] = {}
    for quad in unique:
        subject, _, object_ = quad
        if subject[0] == "_":
            mentions.setdefault(subject, []).append(quad)
        if object_[0] == "_" and object_ != subject:
            mentions.setdefault(object_, []).append(quad)
    if not mentions:
        text = "".join(sorted([f"{s} {p} {o} .\n" for s, p, o in unique]))
    else:
        if len(mentions) > budget.max_blank_nodes:
            raise Fallback("more blank nodes than the budget allows")
        text = "".join(sorted([f"{s} {p} {o} .\n" for s, p, o in _relabel(unique, mentions)]))
    if not text.isascii():
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Fallback("lone surrogate") from exc
        # UTF-8 lead bytes: F0-F4 start a character beyond the BMP, EE-EF one in U+E000-U+FFFF.
        if _ASTRAL_LEAD.search(data) and _HIGH_BMP_LEAD.search(data):
            raise Fallback("statement order might differ between implementations (UTF-16 sort)")
    return text


def _relabel(quads: list[Quad], mentions: dict[str, list[Quad]]) -> list[Quad]:
    """Steps 3-4 of RDFC-1.0: canonical labels in the order of unique first-degree hashes."""
    by_hash: dict[str, str] = {}
    for blank, statements in mentions.items():
        lines = []
        for s, p, o in statements:
            s = ("_:a" if s == blank else "_:z") if s[0] == "_" else s
            o = ("_:a" if o == blank else "_:z") if o[0] == "_" else o
            lines.append(f"{s} {p} {o} .\n")
        lines.sort()
        try:
            digest = sha256("".join(lines).encode("utf-8")).hexdigest()
        except UnicodeEncodeError as exc:
            raise Fallback("lone surrogate") from exc
        if digest in by_hash:
            raise Fallback("blank nodes share a first-degree hash")
        by_hash[digest] = blank
    labels = {by_hash[digest]: f"_:c14n{index}" for index, digest in enumerate(sorted(by_hash))}
    return [
        (labels[s] if s[0] == "_" else s, p, labels[o] if o[0] == "_" else o) for s, p, o in quads
    ]
