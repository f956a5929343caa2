"""UserInfo's one read, shared by the requests that wait for it at the same time (and, on PostgreSQL, a refresh
grant's read of its token: :func:`nodes.oidc.token_routes._serve`).

A UserInfo answer reads one row: the access token with its grant, the member's affiliations and live credentials
(:mod:`nodes.oidc.userinfo_read`). Run per request, that read cost more of the worker's CPU than the rest of the
answer: a hop to a worker thread and back (a PostgreSQL read waits on the network; a SQLite one on the disk and
the write lock), a pooled connection, a cursor, a statement. :class:`CoalescedReads` takes the reads asked for
while one is in flight and runs them as the next one: one hop and one statement (``access_hash = ANY(:hashes)``,
or ``IN json_each(:hashes)`` on SQLite) for all of them. A lone request is read at once; under load the batches
grow with the load, which is when their cost matters. On one core with 64 clients (bench/oidc.py, the collector
settled as in :mod:`nodes.gc_tuning`): on PostgreSQL 1,456 answers/s with one read per request in a thread,
3,061-3,728/s coalesced; on SQLite 2,570-2,846/s with one read per request on the event loop, 3,329-3,976/s
coalesced.

Nothing is cached. Every answer comes from a read that started after its request arrived, so a token revoked
(by the member, by its client, by a reused refresh token) is refused from the next request on, as it is without
coalescing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from itertools import islice
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

#: The most keys one statement reads; more wait for the next.
MOST_PER_READ = 256


class CoalescedReads(Generic[K, T]):
    """Reads by key, for one event loop: ``read_many(keys)`` (blocking, run by ``run`` in a worker thread) answers
    every key waiting when it starts, at most one call in flight at a time. A key is a token's hash (UserInfo), or
    a refresh token's hash with the address of the request that presents it (a refresh grant: the client's lockout
    at that address is read with the token).

    ``read_many`` must answer every key it is given (``None`` for a key that matches nothing).
    """

    def __init__(self, read_many: Callable[[list[K]], dict[K, T]],
                 run: Callable[[Callable[[], dict[K, T]]], Awaitable[dict[K, T]]]) -> None:
        self._read_many, self._run = read_many, run
        self._waiting: dict[K, list[asyncio.Future[T]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def read(self, key: K) -> T:
        """``read_many``'s answer for ``key``, from a read that starts after this call."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_while_waited())
        return await future

    async def _read_while_waited(self) -> None:
        try:
            while self._waiting:
                keys = list(islice(self._waiting, MOST_PER_READ))
                batch = {key: self._waiting.pop(key) for key in keys}
                try:
                    found = await self._run(functools.partial(self._read_many, keys))
                except asyncio.CancelledError:  # the loop is closing: nobody is left to answer
                    for futures in (*batch.values(), *self._waiting.values()):
                        for future in futures:
                            future.cancel()
                    raise
                except Exception as exc:  # each waiting request answers the failure (503 for an outage)
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        if not future.done():  # not a request whose client went away
                            future.set_result(found[key])
        finally:
            self._reader = None
