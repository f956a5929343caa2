"""Coalesced reads (nodes/oidc/token_reads.py): the UserInfo requests waiting at the same time share one read, each
gets its own answer, failures reach every waiter, and nothing is served from an earlier read."""

from __future__ import annotations

import asyncio
import threading

from nodes.oidc.token_reads import MOST_PER_READ, CoalescedReads


class Store:
    """A blocking ``read_many`` that records each call; ``hold`` keeps the next call in flight until released."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.hold = threading.Event()
        self.hold.set()
        self.fail: Exception | None = None

    def read_many(self, keys: list[str]) -> dict[str, str | None]:
        self.calls.append(list(keys))
        self.started.set()
        self.hold.wait(5)
        if self.fail is not None:
            raise self.fail
        return {key: self.values.get(key) for key in keys}


def reads_of(store: Store) -> CoalescedReads[str, str | None]:
    return CoalescedReads(store.read_many, asyncio.to_thread)


async def first_read_in_flight(store: Store, reads: CoalescedReads[str, str | None], key: str) -> asyncio.Task:
    store.hold.clear()
    store.started.clear()
    task = asyncio.ensure_future(reads.read(key))
    while not store.started.is_set():
        await asyncio.sleep(0.001)
    return task


async def asked_while_another_read_is_in_flight(store: Store, keys: list[str]) -> list[str | None]:
    """The answers to reads of ``keys`` asked while a first read, of another key, is in flight."""
    reads = reads_of(store)
    first = await first_read_in_flight(store, reads, "warm")
    waiting = [asyncio.ensure_future(reads.read(key)) for key in keys]
    store.hold.set()
    await first
    return list(await asyncio.gather(*waiting))


def test_reads_asked_while_one_is_in_flight_go_together_and_each_gets_its_own_answer():
    store = Store()
    store.values = {f"k{i}": f"v{i}" for i in range(6)}

    async def scenario() -> list[str | None]:
        reads = reads_of(store)
        first = await first_read_in_flight(store, reads, "k0")
        waiting = [asyncio.ensure_future(reads.read(f"k{i}")) for i in (1, 2, 3, 4, 5, 3)]
        await asyncio.sleep(0.01)
        store.hold.set()
        return [await first, *await asyncio.gather(*waiting)]

    answers = asyncio.run(scenario())
    assert answers == ["v0", "v1", "v2", "v3", "v4", "v5", "v3"]
    assert store.calls == [["k0"], ["k1", "k2", "k3", "k4", "k5"]], "one read for all that waited, each key once"


def test_a_key_that_matches_nothing_answers_none_to_its_request_only():
    store = Store()
    store.values = {"known": "value"}

    assert asyncio.run(asked_while_another_read_is_in_flight(store, ["known", "unknown"])) == ["value", None]


def test_a_failed_read_fails_every_request_that_waited_for_it_and_the_next_read_still_runs():
    store = Store()
    store.values = {"a": "1", "b": "2", "c": "3"}

    async def scenario() -> tuple[list[object], str | None]:
        reads = reads_of(store)
        first = await first_read_in_flight(store, reads, "a")
        store.fail = ConnectionError("the database went away")
        waiting = [asyncio.ensure_future(reads.read(key)) for key in ("b", "c")]
        store.hold.set()
        outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
        store.fail = None
        return list(outcomes), await reads.read("c")

    outcomes, after = asyncio.run(scenario())
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert after == "3"


def test_a_request_that_went_away_does_not_keep_the_others_from_their_answers():
    store = Store()
    store.values = {"a": "1", "b": "2", "c": "3"}

    async def scenario() -> list[str | None]:
        reads = reads_of(store)
        first = await first_read_in_flight(store, reads, "a")
        gone = asyncio.ensure_future(reads.read("b"))
        staying = asyncio.ensure_future(reads.read("c"))
        await asyncio.sleep(0.01)
        gone.cancel()
        store.hold.set()
        return [await first, await staying]

    assert asyncio.run(scenario()) == ["1", "3"]


def test_nothing_is_served_from_an_earlier_read():
    """A token revoked between two requests is refused by the second: each request gets a read that started after
    it arrived."""
    store = Store()
    store.values = {"token": "live"}

    async def scenario() -> list[str | None]:
        reads = reads_of(store)
        before = await reads.read("token")
        store.values["token"] = None  # type: ignore[assignment]
        after = await reads.read("token")
        return [before, after]

    assert asyncio.run(scenario()) == ["live", None]
    assert store.calls == [["token"], ["token"]]


def test_a_request_arriving_while_a_read_is_in_flight_waits_for_a_read_that_starts_after_it():
    store = Store()
    store.values = {"token": "live"}

    async def scenario() -> list[str | None]:
        reads = reads_of(store)
        first = await first_read_in_flight(store, reads, "token")
        store.values["token"] = None  # type: ignore[assignment]  # revoked while the first read is in flight
        second = asyncio.ensure_future(reads.read("token"))
        await asyncio.sleep(0.01)
        store.hold.set()
        return [await first, await second]

    answers = asyncio.run(scenario())
    assert answers[1] is None, "the second request is not answered by the read that was already in flight"
    assert store.calls == [["token"], ["token"]]


def test_one_read_takes_at_most_its_share_of_keys():
    many = MOST_PER_READ + 44
    store = Store()
    store.values = {f"k{i}": str(i) for i in range(many)}

    keys = [f"k{i}" for i in range(many)]
    assert asyncio.run(asked_while_another_read_is_in_flight(store, keys)) == [str(i) for i in range(many)]
    assert [len(call) for call in store.calls] == [1, MOST_PER_READ, many - MOST_PER_READ]
