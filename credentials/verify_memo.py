"""A small memo of verifications that succeeded, so a verifier serving many requests does not redo the same work.

A verifier node sees the same few documents again and again: its issuers' DID documents and status list
credentials (already cached as fetched bytes by the node's fetcher, with a TTL). Processing them again on every
request is most of a verification's cost. The memo remembers, for ``ttl``, that an exact document (its JSON,
keys sorted: any changed byte is another entry) passed a check; only successes are remembered, so a refused
document is checked again each time. The TTL bounds how long a success outlives what it depended on outside the
document (the issuer's DID document, itself cached that long by the fetcher). Thread-safe, bounded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any


def digest(document: Any) -> str:
    """The memo key of a JSON document: SHA-256 of its JSON with sorted keys."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class SuccessMemo:
    """Remembers keys that passed, each until ``ttl`` after it was stored (by the caller's ``clock``)."""

    def __init__(self, clock: Callable[[], datetime], ttl: timedelta = timedelta(seconds=60),
                 size: int = 1024) -> None:
        self.clock, self.ttl, self.size = clock, ttl, size
        self._entries: OrderedDict[Hashable, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def passed(self, key: Hashable) -> bool:
        """Whether ``key`` passed less than ``ttl`` ago."""
        now = self.clock()
        with self._lock:
            until = self._entries.get(key)
            if until is None:
                return False
            if until <= now:
                del self._entries[key]
                return False
            return True

    def remember(self, key: Hashable) -> None:
        until = self.clock() + self.ttl
        with self._lock:
            self._entries[key] = until
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
