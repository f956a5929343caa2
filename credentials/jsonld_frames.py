"""Active JSON-LD contexts resolved once into term tables, for the compiled path (:mod:`credentials.jsonld_compiled`).

Why: pyld spends most of a canonicalization in context processing and term lookups that give the same answer
for every credential (the contexts are bundled and never change). Here each active context is a :class:`Frame`:
pyld's own processed context (so the semantics are pyld's, protected terms and scoped contexts included) plus
memos of what the expansion algorithm asks of it - a key's IRI and term definition, and the context that follows
when a property-scoped, type-scoped or embedded ``@context`` applies. A transition is computed once, by pyld, under
the lock that guards pyld's caches, and then looked up.

Anything a frame cannot answer for sure raises :class:`Fallback`: the caller then runs the reference path
(pyld expansion and the safety checks), which decides. Memos are bounded so that a document crafted to create
many contexts cannot grow them without limit: past the bound, documents fall back instead.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from pyld import jsonld

from credentials.jsonld_loader import JsonLdLoader

PYLD_LOCK = threading.Lock()
"""Serializes every use of pyld's context caches (shared with :mod:`credentials.jsonld_canon`)."""

MAX_FRAMES = 512
MAX_MEMO = 4_096
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\]*")  # as credentials.jsonld_safety
_PYLD_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")  # pyld's _is_absolute_iri
_SET, _LIST = ("@set",), ("@list",)


class Fallback(Exception):
    """The compiled path cannot be sure of the result; the reference path must decide."""


class Prop:
    """What the expansion algorithm needs to know about one non-keyword key of a node in a frame."""

    __slots__ = ("key", "predicate", "term_frame", "is_list", "coercion", "datatype")

    def __init__(self, key: str, predicate: str, term_frame: Frame, is_list: bool, coercion: str | None) -> None:
        self.key = key
        self.predicate = predicate  # "<iri>", ready to print
        self.term_frame = term_frame  # the frame after the key's property-scoped context
        self.is_list = is_list
        self.coercion = coercion  # None, "@id", "@vocab" or a datatype IRI
        self.datatype = coercion if coercion is not None and coercion[0] != "@" else None


class Frame:
    """One active context, with memoized lookups and transitions (see the module docstring)."""

    __slots__ = ("table", "ctx", "mappings", "vocab", "previous", "_keys", "_props", "_vocab_iris", "_next")

    def __init__(self, table: FrameTable, ctx: dict[str, Any]) -> None:
        self.table = table
        self.ctx = ctx
        self.mappings: dict[str, Any] = ctx["mappings"]
        self.vocab: str | None = ctx.get("@vocab")
        previous = ctx.get("previousContext")
        self.previous: Frame | None = table.frame(previous) if previous is not None else None
        self._keys: dict[str, str | None] = {}
        self._props: dict[str, Prop] = {}
        self._vocab_iris: dict[str, str] = {}
        self._next: dict[tuple[Any, ...], Frame] = {}

    def expand_key(self, key: str) -> str | None:
        """pyld's ``_expand_iri(ctx, key, vocab=True)``, memoized."""
        found = self._keys.get(key, _MISSING)
        if found is _MISSING:
            found = self.table.processor._expand_iri(self.ctx, key, vocab=True)
            if len(self._keys) < MAX_MEMO:
                self._keys[key] = found
        return found  # type: ignore[no-any-return]

    def prop(self, key: str) -> Prop:
        """The compiled definition of a property key, or :class:`Fallback` for anything not modelled."""
        found = self._props.get(key)
        if found is None:
            found = self._compile_prop(key)
            if len(self._props) < MAX_MEMO:
                self._props[key] = found
        return found

    def _compile_prop(self, key: str) -> Prop:
        expanded = self.expand_key(key)
        if not isinstance(expanded, str) or not _IRI.fullmatch(expanded):
            raise Fallback("key is not a term, an absolute IRI or a keyword the compiled path handles")
        mapping = self.mappings.get(key)
        if mapping is not None and (mapping.get("reverse") or mapping.get("@type") == "@json"):
            raise Fallback("@reverse and @json terms are left to the reference path")
        term_frame = self.scoped(key)
        container = _container(self.ctx, key)
        if _container(term_frame.ctx, key) != container or container not in ((), _SET, _LIST):
            raise Fallback("containers other than @set and @list are left to the reference path")
        if term_frame.expand_key(key) != expanded:
            raise Fallback("the key's own scoped context redefines it")
        get = jsonld.JsonLdProcessor.get_context_value
        coercion = get(term_frame.ctx, key, "@type")
        if get(term_frame.ctx, key, "@language") is not None or get(term_frame.ctx, key, "@direction") is not None:
            raise Fallback("language and direction defaults are left to the reference path")
        if coercion is not None and coercion not in ("@id", "@vocab") and not _IRI.fullmatch(coercion):
            raise Fallback(f"type coercion {str(coercion)[:40]!r} is not modelled")
        return Prop(key, f"<{expanded}>", term_frame, container == _LIST, coercion)

    def scoped(self, key: str) -> Frame:
        """The term context for ``key``: its property-scoped context applied (pyld ``_expand_object``)."""
        local = jsonld.JsonLdProcessor.get_context_value(self.ctx, key, "@context")
        if local is None:
            return self
        return self._transition(("scoped", key), lambda p, o: p._process_context(
            self.ctx, local, o, propagate=True, override_protected=True))

    def node_entry(self, key: str, subject_reference: bool) -> Frame:
        """The context a node object value of ``key`` starts in (pyld ``_expand``: revert, then scoped context).

        Called on the term frame of ``key``. A type-scoped context does not propagate into nested nodes, except
        into a lone subject reference (``{"id": ...}``).
        """
        return self._transition(("entry", key, subject_reference), lambda p, o: self._entry_ctx(
            p, o, key, subject_reference))

    def _entry_ctx(self, processor: Any, options: dict[str, Any], key: str, reference: bool) -> dict[str, Any]:
        ctx = self.ctx if reference else self.ctx.get("previousContext", self.ctx)
        local = jsonld.JsonLdProcessor.get_context_value(self.ctx, key, "@context")
        if local is not None:
            ctx = processor._process_context(ctx, local, options, override_protected=True)
        return ctx

    def embedded(self, urls: tuple[str, ...]) -> Frame:
        """The frame after a node's own ``@context`` (a list of bundled URLs, checked by the caller)."""
        return self._transition(("embedded", urls), lambda p, o: p._process_context(self.ctx, list(urls), o))

    def typed(self, type_scoped: Frame, type_: str) -> Frame:
        """The frame after the type-scoped context of ``type_`` (looked up in ``type_scoped``) applies."""
        found = self._next.get(("typed", id(type_scoped), type_))
        if found is not None:
            return found
        local = jsonld.JsonLdProcessor.get_context_value(type_scoped.ctx, type_, "@context")
        if local is None or local is False:
            return self
        return self._transition(("typed", id(type_scoped), type_), lambda p, o: p._process_context(
            self.ctx, local, o, propagate=False))

    def vocab_iri(self, value: str) -> str:
        """pyld ``_expand_iri(ctx, value, vocab=True, base=None)`` for a ``@type`` or ``@vocab`` value, checked."""
        found = self._vocab_iris.get(value)
        if found is None:
            mapping = self.mappings.get(value, _MISSING)
            if mapping is None:
                raise Fallback("value names a null term")
            if mapping is not _MISSING:
                found = mapping.get("@id")
            else:
                found = self._prefixed(value)
                if found is None:
                    if self.vocab is None:
                        raise Fallback("relative IRI")
                    found = self.vocab + value
            if not isinstance(found, str) or not (_IRI.fullmatch(found) or _is_blank(found)):
                raise Fallback("value does not expand to an absolute IRI")
            if len(self._vocab_iris) < MAX_MEMO:
                self._vocab_iris[value] = found
        return found

    def id_iri(self, value: str) -> str:
        """pyld ``_expand_iri(ctx, value, base=None)`` (document-relative, no vocabulary) for an ``@id``, checked."""
        found = self._prefixed(value)
        if found is None or not (_IRI.fullmatch(found) or _is_blank(found)):
            raise Fallback("@id is not an absolute IRI or a blank node identifier")
        return found

    def _prefixed(self, value: str) -> str | None:
        """The colon steps of pyld's ``_expand_iri``; ``None`` where it would go on to @vocab or the base IRI."""
        if value[:1] == "@":
            raise Fallback("keyword-like value")
        colon = value.find(":")
        if colon <= 0:
            return None
        prefix, suffix = value[:colon], value[colon + 1 :]
        if prefix == "_" or suffix.startswith("//"):
            return value
        mapping = self.mappings.get(prefix)
        if mapping and mapping.get("_prefix"):
            iri = mapping.get("@id")
            if not isinstance(iri, str):
                raise Fallback("prefix without an IRI")
            return iri + suffix
        return value if _PYLD_ABSOLUTE.match(value) else None

    def _transition(self, key: tuple[Any, ...], compute: Any) -> Frame:
        found = self._next.get(key)
        if found is None:
            found = self.table.transition(compute)
            if len(self._next) < MAX_MEMO:
                self._next[key] = found
        return found


class FrameTable:
    """The frames of one :class:`JsonLdLoader`: its initial context and everything reached from it."""

    def __init__(self, loader: JsonLdLoader) -> None:
        self.processor = jsonld.JsonLdProcessor()
        self.options = {**loader.pyld_options(), "isFrame": False, "keepFreeFloatingNodes": False}
        self.allowed = loader.allowed
        self._frames: dict[int, Frame] = {}
        # Canonical proof configurations, see credentials.jsonld_canon.canonize_proof_config.
        self.proof_configs: dict[frozenset[tuple[str, Any]], tuple[str, int, int]] = {}
        with PYLD_LOCK:
            initial = self.processor._get_initial_context(self.options)
        self.initial = self.frame(initial)

    def frame(self, ctx: dict[str, Any]) -> Frame:
        """The frame of a pyld context (one per context object; the frame keeps the object alive)."""
        found = self._frames.get(id(ctx))
        if found is None:
            if len(self._frames) >= MAX_FRAMES:
                raise Fallback("too many distinct JSON-LD contexts")
            found = self._frames[id(ctx)] = Frame(self, ctx)
        return found

    def transition(self, compute: Any) -> Frame:
        with PYLD_LOCK:
            try:
                ctx = compute(self.processor, self.options)
            except Exception as exc:  # protected term redefinitions and the like: the reference path says why
                raise Fallback("context processing failed") from exc
            return self.frame(ctx)


def _container(ctx: dict[str, Any], key: str) -> tuple[str, ...]:
    value = jsonld.JsonLdProcessor.get_context_value(ctx, key, "@container")
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


_is_blank = re.compile(r"_:\S+").fullmatch  # as credentials.jsonld_safety

_MISSING: Any = object()
