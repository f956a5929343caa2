"""RDF Dataset Canonicalization RDFC-1.0 (https://www.w3.org/TR/rdf-canon/), with a work budget.

Why not ``pyld.jsonld.normalize(..., algorithm="URDNA2015")``? pyld's URDNA2015 has the right labelling
algorithm but (1) its N-Quads serializer does not escape ``\\b``, ``\\f`` and the other control characters as
canonical N-Quads require (see :mod:`credentials.nquads`); the serializer is used inside the blank-node hashes
too, so fixing the output text afterwards is not enough; and (2) it has no work limit, so a small "poison" graph
runs for hours (RDFC-1.0 §8.1 asks implementations to abort by default). This module is therefore a small, direct
implementation of the spec over quads that pyld's ``to_rdf`` produces. It is tested against the W3C RDFC-1.0
test suite (``tests/vectors/rdf-canon``), against pyld's URDNA2015 on graphs without control characters, and
against Digital Bazaar's rdf-canonize (``tests/interop``).

The work budget mirrors rdf-canonize, the implementation behind the Digital Bazaar cryptosuites: Hash N-Degree
Quads may run at most (number of blank nodes without a unique first-degree hash) ** ``work_factor`` times
(default 1). A deadline (``time.monotonic()`` value) and a ``threading.Event`` let a caller stop the work from
outside, for example from the thread that waits on a worker.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from credentials.errors import CanonicalizationLimitError, CanonicalOrderError
from credentials.nquads import RDF_LANGSTRING, XSD_STRING, Quad, Term, escape_literal, serialize_quad

__all__ = [
    "RDF_LANGSTRING",
    "XSD_STRING",
    "Quad",
    "Term",
    "WorkBudget",
    "canonicalize",
    "canonicalize_with_labels",
    "escape_literal",
]

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_HIGH_BMP = re.compile("[\ue000-\uffff]")


@dataclass(frozen=True)
class WorkBudget:
    """Limits on canonicalization work; the defaults accept any realistic credential or presentation."""

    max_quads: int = 20_000
    max_blank_nodes: int = 2_000
    work_factor: int = 1
    max_permutations: int = 100_000
    deadline: float | None = None
    cancel: threading.Event | None = None

    @classmethod
    def with_timeout(cls, seconds: float, cancel: threading.Event | None = None) -> WorkBudget:
        """A default budget that also stops ``seconds`` from now (monotonic clock)."""
        return cls(deadline=time.monotonic() + seconds, cancel=cancel)


def canonicalize(
    quads: Iterable[Quad],
    *,
    budget: WorkBudget | None = None,
    hash_algorithm: str = "sha256",
    portable_order: bool = True,
) -> str:
    """The canonical N-Quads document of a dataset (RDFC-1.0 §4.4), sorted in code point order.

    With ``portable_order`` (the default), a dataset whose order would differ under rdf-canonize's UTF-16
    sort raises :class:`~credentials.errors.CanonicalOrderError` instead.
    """
    return _Canonicalizer(quads, budget or WorkBudget(), hash_algorithm, portable_order).run()[0]


def canonicalize_with_labels(
    quads: Iterable[Quad],
    *,
    budget: WorkBudget | None = None,
    hash_algorithm: str = "sha256",
    portable_order: bool = True,
) -> tuple[str, dict[str, str]]:
    """The canonical document and the issued identifiers map (input label -> ``c14nN``)."""
    return _Canonicalizer(quads, budget or WorkBudget(), hash_algorithm, portable_order).run()


def _sorted_lines(lines: Iterable[str], portable: bool) -> list[str]:
    """Code point order; optionally refuse if UTF-16 code unit order (rdf-canonize's) would differ."""
    ordered = sorted(lines)
    if (
        portable
        and any(_ASTRAL.search(line) for line in ordered)
        and any(map(_HIGH_BMP.search, ordered))
        and ordered != sorted(ordered, key=lambda line: line.encode("utf-16-be"))
    ):
        raise CanonicalOrderError("statement order differs between RDFC-1.0 implementations (UTF-16 sort)")
    return ordered


class _Issuer:
    """Identifier issuer (RDFC-1.0 §4.5); ``issued`` keeps insertion order, which the algorithm relies on."""

    __slots__ = ("prefix", "issued")

    def __init__(self, prefix: str, issued: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.issued = issued if issued is not None else {}

    def issue(self, existing: str) -> str:
        label = self.issued.get(existing)
        if label is None:
            label = self.issued[existing] = f"{self.prefix}{len(self.issued)}"
        return label

    def copy(self) -> _Issuer:
        return _Issuer(self.prefix, dict(self.issued))


class _Canonicalizer:
    def __init__(self, quads: Iterable[Quad], budget: WorkBudget, hash_algorithm: str, portable: bool) -> None:
        self.quads = list(dict.fromkeys(quads))  # a dataset is a set: drop duplicate quads, keep order
        self.budget = budget
        self.hash_algorithm = hash_algorithm
        self.portable = portable
        self.canonical = _Issuer("_:c14n")
        self.first_degree: dict[str, str] = {}
        self.by_blank: dict[str, list[Quad]] = {}
        self.deep_left = 0
        self.permutations_left = budget.max_permutations
        if len(self.quads) > budget.max_quads:
            raise CanonicalizationLimitError(f"dataset has more than {budget.max_quads} quads")

    def run(self) -> tuple[str, dict[str, str]]:
        for quad in self.quads:
            for term in (quad.subject, quad.object, quad.graph):
                if term is not None and term.kind == "blank":
                    mentions = self.by_blank.setdefault(term.value, [])
                    if not mentions or mentions[-1] is not quad:
                        mentions.append(quad)
        if len(self.by_blank) > self.budget.max_blank_nodes:
            raise CanonicalizationLimitError(f"dataset has more than {self.budget.max_blank_nodes} blank nodes")
        shared = self._issue_unique_hashes()
        self.deep_left = sum(len(ids) for ids in shared) ** self.budget.work_factor
        for ids in shared:
            self._issue_shared(ids)
        label = self._canonical_label
        lines = _sorted_lines((serialize_quad(quad, label) for quad in self.quads), self.portable)
        issued = {blank: label_[2:] for blank, label_ in self.canonical.issued.items()}
        return "".join(lines), issued

    def _canonical_label(self, blank: str) -> str:
        return self.canonical.issued[blank][2:]

    def _issue_unique_hashes(self) -> list[list[str]]:
        """Steps 3-4: canonical labels for blank nodes with a unique first-degree hash; return the rest."""
        by_hash: dict[str, list[str]] = {}
        for blank in self.by_blank:
            by_hash.setdefault(self._hash_first_degree(blank), []).append(blank)
        shared: list[list[str]] = []
        for digest in sorted(by_hash):
            if len(by_hash[digest]) == 1:
                self.canonical.issue(by_hash[digest][0])
            else:
                shared.append(by_hash[digest])
        return shared

    def _issue_shared(self, ids: list[str]) -> None:
        """Step 5: order blank nodes that share a first-degree hash by their n-degree hashes."""
        results: list[tuple[str, _Issuer]] = []
        for blank in ids:
            if blank in self.canonical.issued:
                continue
            temporary = _Issuer("_:b")
            temporary.issue(blank)
            results.append(self._hash_n_degree(blank, temporary))
        for _digest, issuer in sorted(results, key=lambda result: result[0]):
            for existing in issuer.issued:
                self.canonical.issue(existing)

    def _hash(self, text: str) -> str:
        return hashlib.new(self.hash_algorithm, text.encode("utf-8")).hexdigest()

    def _hash_first_degree(self, blank: str) -> str:
        """§4.6: hash of the quads that mention ``blank``, itself relabelled ``_:a`` and others ``_:z``."""
        digest = self.first_degree.get(blank)
        if digest is None:

            def label(other: str) -> str:
                return "a" if other == blank else "z"

            lines = _sorted_lines((serialize_quad(quad, label) for quad in self.by_blank[blank]), self.portable)
            digest = self.first_degree[blank] = self._hash("".join(lines))
        return digest

    def _hash_related(self, related: str, quad: Quad, issuer: _Issuer, position: str) -> str:
        """§4.7: hash of a blank node as seen from a neighbour, through ``quad`` at ``position``."""
        identifier = (
            self.canonical.issued.get(related) or issuer.issued.get(related) or self._hash_first_degree(related)
        )
        predicate = "" if position == "g" else f"<{quad.predicate.value}>"
        return self._hash(position + predicate + identifier)

    def _related_by_hash(self, blank: str, issuer: _Issuer) -> dict[str, list[str]]:
        related: dict[str, list[str]] = {}
        for quad in self.by_blank[blank]:
            for position, term in (("s", quad.subject), ("o", quad.object), ("g", quad.graph)):
                if term is not None and term.kind == "blank" and term.value != blank:
                    digest = self._hash_related(term.value, quad, issuer, position)
                    related.setdefault(digest, []).append(term.value)
        return related

    def _hash_n_degree(self, blank: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        """§4.8: a hash of ``blank``'s surroundings, choosing the smallest path over all permutations."""
        if self.deep_left <= 0:
            raise CanonicalizationLimitError("too many Hash N-Degree Quads iterations (poison graph?)")
        self.deep_left -= 1
        data = hashlib.new(self.hash_algorithm)
        for digest, nodes in sorted(self._related_by_hash(blank, issuer).items()):
            data.update(digest.encode("utf-8"))
            chosen_path, chosen_issuer = "", issuer
            for permutation in _permutations(nodes):
                self._tick()
                found = self._path(permutation, issuer, chosen_path)
                if found is not None:
                    chosen_path, chosen_issuer = found
            data.update(chosen_path.encode("utf-8"))
            issuer = chosen_issuer
        return data.hexdigest(), issuer

    def _path(self, permutation: list[str], issuer: _Issuer, chosen: str) -> tuple[str, _Issuer] | None:
        """Steps 5.4.1-5.4.6 for one permutation; ``None`` when it cannot beat the chosen path."""
        copy, path, recursion = issuer.copy(), "", []
        for related in permutation:
            canonical = self.canonical.issued.get(related)
            if canonical is not None:
                path += canonical
            else:
                if related not in copy.issued:
                    recursion.append(related)
                path += copy.issue(related)
            if chosen and len(path) >= len(chosen) and path > chosen:
                return None
        for related in recursion:
            digest, copy = self._hash_n_degree(related, copy)
            path += copy.issue(related) + f"<{digest}>"
            if chosen and len(path) >= len(chosen) and path > chosen:
                return None
        if chosen and path >= chosen:
            return None
        return path, copy

    def _tick(self) -> None:
        self.permutations_left -= 1
        if self.permutations_left < 0:
            raise CanonicalizationLimitError("too many blank node permutations (poison graph?)")
        budget = self.budget
        if budget.deadline is not None and time.monotonic() > budget.deadline:
            raise CanonicalizationLimitError("canonicalization deadline passed")
        if budget.cancel is not None and budget.cancel.is_set():
            raise CanonicalizationLimitError("canonicalization cancelled")


def _permutations(items: list[str]) -> Iterable[list[str]]:
    """All orderings of ``items``, starting from the sorted one (Steinhaus-Johnson-Trotter, as rdf-canonize).

    The order matters only for ties between equal paths, which leave the canonical N-Quads unchanged but
    decide the issued identifiers map; following rdf-canonize keeps that map identical too.
    """
    current = sorted(items)
    left = dict.fromkeys(current, True)
    last = len(current) - 1
    while True:
        yield list(current)
        mobile, position = None, 0
        for index, element in enumerate(current):
            looks_left = left[element]
            if (mobile is None or element > mobile) and (
                (looks_left and index > 0 and element > current[index - 1])
                or (not looks_left and index < last and element > current[index + 1])
            ):
                mobile, position = element, index
        if mobile is None:
            return
        swap = position - 1 if left[mobile] else position + 1
        current[position], current[swap] = current[swap], mobile
        for element in current:
            if element > mobile:
                left[element] = not left[element]
