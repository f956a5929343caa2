"""Small thread budgets for the CPU-bound endpoints.

FastAPI runs synchronous work in anyio's default pool of forty threads. For work that holds the GIL most of the time
(verifying a credential, answering a token or UserInfo request), forty threads on one core do not serve more
requests than a few do: they take turns on the interpreter lock, and every call that releases it (SQLite, Ed25519,
zlib, SHA-256) then waits behind the others to get it back, which is what stretched the latency tail (refresh
grants p99 about 1.2 s with forty threads, about 0.2 s with four, bench/oidc.py). A budget of a few threads still
lets a request that waits on I/O (a did:web fetch, a PostgreSQL round trip) overlap with the others.

Each budget is a plain :class:`~concurrent.futures.ThreadPoolExecutor` of its event loop, reached through
``loop.run_in_executor``, rather than anyio's ``to_thread`` with a capacity limiter: anyio's hand-off (limiter,
cancel scope, checkpoints) cost about twice the context switches per request, and refresh grants went from
1,142-1,165/s to 1,358-1,386/s on SQLite and from 974-1,033/s to 1,068-1,100/s on PostgreSQL on one core
(64 clients). The call runs in a copy of the caller's context (context variables), as with anyio. A request whose
client goes away stops waiting; its call still finishes in its thread, as anyio's would.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ThreadPoolExecutor]] = (
    weakref.WeakKeyDictionary()
)


async def run_limited(budget: str, threads: int, call: Callable[[], T]) -> T:
    """Run ``call`` in a worker thread, at most ``threads`` at once for ``budget`` in this event loop."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_pool(loop, budget, threads), functools.partial(context.run, call))


def _pool(loop: asyncio.AbstractEventLoop, budget: str, threads: int) -> ThreadPoolExecutor:
    """The event loop's pool for ``budget``, made on first use (tests run several nodes, each in its own loop; a
    pool's idle threads end when its loop is gone)."""
    pools = _POOLS.setdefault(loop, {})
    pool = pools.get(budget)
    if pool is None:
        pool = pools[budget] = ThreadPoolExecutor(threads, thread_name_prefix=f"passerelle-{budget}")
    return pool
