"""Everything one running node needs, built once by the app factory and reached through ``app.state.node``.

No module-level singletons: two nodes in one process each have their own :class:`NodeContext`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.engine import Engine

from credentials.did_web import did_from_base_url
from credentials.jsonld_loader import JsonLdLoader
from nodes.clock import Clock, utc_now
from nodes.fetch import SafeFetcher
from nodes.settings import NodeSettings
from nodes.storage.direct import DirectReads


@dataclass
class NodeContext:
    """The node's settings, database engine, secret and clock."""

    settings: NodeSettings
    engine: Engine
    secret: bytes = field(repr=False)
    clock: Clock = utc_now

    @cached_property
    def did(self) -> str:
        """The node's ``did:web``, derived once from ``base_url`` (settings do not change while a node runs)."""
        return did_from_base_url(self.settings.base_url)

    # Built on first use, once per node: the JSON-LD loader owns the resolved-context cache, the fetcher owns the
    # outbound HTTP client and the TTL cache of DID documents and status lists (http to loopback only in dev_mode).
    @cached_property
    def loader(self) -> JsonLdLoader:
        with _BUILD_LOCK:
            return self.__dict__.get("loader") or JsonLdLoader()

    @cached_property
    def fetcher(self) -> SafeFetcher:
        with _BUILD_LOCK:
            return self.__dict__.get("fetcher") or SafeFetcher(dev_mode=self.settings.dev_mode)

    @cached_property
    def direct_reads(self) -> DirectReads:
        """The pool of the hot read paths (:mod:`nodes.storage.direct`): the same database as ``engine``."""
        with _BUILD_LOCK:
            return self.__dict__.get("direct_reads") or DirectReads(
                self.engine.url.render_as_string(hide_password=False), self.settings.database_timeout_seconds)


_BUILD_LOCK = threading.Lock()
