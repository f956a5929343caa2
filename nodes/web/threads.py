"""Small thread budgets for the CPU-bound endpoints.

FastAPI runs synchronous work in anyio's default pool of forty threads. For work that holds the GIL most of the time
(verifying a credential, answering a token or UserInfo request), forty threads on one core do not serve more
requests than a few do: they take turns on the interpreter lock, and every call that releases it (SQLite, Ed25519,
zlib, SHA-256) then waits behind the others to get it back, which is what stretched the latency tail (refresh
grants p99 about 1.2 s with forty threads, about 0.2 s with four, bench/oidc.py). A budget of a few threads still
lets a request that waits on I/O (a did:web fetch, a PostgreSQL round trip) overlap with the others.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")

_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, CapacityLimiter]] = (
    weakref.WeakKeyDictionary()
)


async def run_limited(budget: str, threads: int, call: Callable[[], T]) -> T:
    """Run ``call`` in a worker thread, at most ``threads`` at once for ``budget`` in this event loop."""
    return await anyio.to_thread.run_sync(call, limiter=_limiter(budget, threads))


def _limiter(budget: str, threads: int) -> CapacityLimiter:
    """The event loop's limiter, made on first use (anyio binds a limiter to the loop it is used in; tests run
    several nodes, each in its own loop)."""
    limiters = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    limiter = limiters.get(budget)
    if limiter is None:
        limiter = limiters[budget] = CapacityLimiter(threads)
    return limiter
