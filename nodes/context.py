"""Everything one running node needs, built once by the app factory and reached through ``app.state.node``.

No module-level singletons: two nodes in one process each have their own :class:`NodeContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from credentials.did_web import did_from_base_url
from nodes.clock import Clock, utc_now
from nodes.settings import NodeSettings


@dataclass
class NodeContext:
    """The node's settings, database engine, secret and clock."""

    settings: NodeSettings
    engine: Engine
    secret: bytes = field(repr=False)
    clock: Clock = utc_now

    @property
    def did(self) -> str:
        return did_from_base_url(self.settings.base_url)
