"""The only JSON-LD document loader this library uses: offline, over the contexts bundled in ``schemas``.

pyld's default loader fetches any URL (``requests``), which would let a credential make a node call
``http://169.254.169.254/...``. Every pyld call in this room therefore passes :meth:`JsonLdLoader.pyld_options`,
and :meth:`JsonLdLoader.check_contexts` refuses an unknown URL or an inline context object before pyld runs at
all (SECURITY V3). The loader itself refuses too, as a second wall.

Caching: pyld keeps resolved contexts in a process-wide cache keyed only by URL, shared by every loader in the
process. A context resolved once by some other loader (or the test loader's ``examples/v2``) would then be
served to ours without calling us. So each :class:`JsonLdLoader` owns its cache and hands pyld a
``ContextResolver`` over it. The documents are tagged ``static`` so that pyld keeps them there: without the tag it
calls the loader, parses and hashes (JCS) every context again on every call; its processed term definitions are
reused either way, since pyld also caches a context body by its content. With the tag, expanding the W3C alumni
credential takes about half as long (0.4 ms against 0.8-1.1 ms; ``bench/data_integrity.py`` prints the figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyld.context_resolver import ContextResolver

from credentials.errors import ContextNotAllowedError
from schemas.loader import bundled_context_urls, load_context


class JsonLdLoader:
    """A pyld document loader that serves only bundled contexts.

    ``test_mode=True`` also serves the test-only contexts (``https://www.w3.org/ns/credentials/examples/v2``);
    only tests pass it. Create one loader per mode and reuse it: it holds the resolved-context cache.
    """

    def __init__(self, *, test_mode: bool = False) -> None:
        self.test_mode = test_mode
        self.allowed: frozenset[str] = bundled_context_urls(test_mode=test_mode)
        # Plays the role of pyld's module-level ``_resolved_context_cache``, but private to this loader.
        # Bounded: it only ever holds bundled URLs and the scoped contexts inside them.
        self._resolved: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"JsonLdLoader(test_mode={self.test_mode})"

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """pyld's loader contract: return a RemoteDocument for ``url`` or raise."""
        if url not in self.allowed:
            raise ContextNotAllowedError(f"JSON-LD context {_shorten(url)!r} is not bundled with this node")
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": load_context(url, test_mode=self.test_mode),
            # pyld keeps a context tagged "static" in the resolver's shared cache, so it is processed once.
            "tag": "static",
        }

    def pyld_options(self) -> dict[str, Any]:
        """Options for every pyld call: our loader and resolver, no base IRI, JSON-LD 1.1, i18n direction.

        ``base`` must be ``None``: with pyld's default (``""``) a relative ``id`` is silently resolved against
        ``http://example.org/base/``. ``rdfDirection`` matches the Digital Bazaar eddsa-rdfc-2022 cryptosuite.
        Call pyld through :mod:`credentials.jsonld_canon`, which also runs the safety checks and serializes
        access to pyld's caches.
        """
        return {
            "documentLoader": self,
            "contextResolver": ContextResolver(self._resolved, self),
            "base": None,
            "processingMode": "json-ld-1.1",
            "rdfDirection": "i18n-datatype",
            "extractAllScripts": False,
        }

    def check_contexts(self, document: Any) -> None:
        """Refuse the document if any ``@context``, at any depth, is not a list of bundled URLs.

        Inline context objects are refused as well: they could redefine terms or ``@import`` a URL.
        The walk is iterative so that a deeply nested document cannot exhaust the Python stack here.
        """
        stack: list[Any] = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                for key, value in node.items():
                    if key == "@context":
                        self._check_context_value(value)
                    else:
                        stack.append(value)

    def _check_context_value(self, value: Any) -> None:
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                raise ContextNotAllowedError("inline or null @context values are not accepted; use bundled URLs")
            if item not in self.allowed:
                raise ContextNotAllowedError(f"JSON-LD context {_shorten(item)!r} is not bundled with this node")


def _shorten(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
