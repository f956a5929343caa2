"""Sign-in throttling counters: thresholds, exponential back-off, forgetting, and exact counting under load."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import Session, select

from nodes import throttle
from nodes.context import NodeContext
from nodes.storage.db import transaction
from nodes.storage.direct import DirectStatement
from nodes.storage.models import LoginThrottle
from tests.movable_clock import MovableClock

KEY = throttle.account_key("alice@ecole.example")


def context(node, clock) -> NodeContext:
    return NodeContext(settings=node.settings, engine=node.engine, secret=node.secret, clock=clock)


_LATEST_LOCK = DirectStatement(select(throttle.LATEST_LOCK.label("locked_until")))


def retry_after(ctx: NodeContext, keys: list[str]) -> int | None:
    """What a sign-in reads with its member: the seconds until the latest lock of its keys has passed."""
    with ctx.direct_reads.connection() as connection:
        row = connection.first(_LATEST_LOCK, throttle.lock_keys(keys))
    assert row is not None
    return throttle.seconds_until(row.locked_until, ctx.clock())


def fail(node, clock, times: int = 1, key: str = KEY, threshold: int = throttle.ACCOUNT_THRESHOLD) -> int | None:
    wait = None
    for _ in range(times):
        with transaction(node.engine) as db:
            wait = throttle.register_failure(db, clock(), [(key, threshold)])
    return wait


def test_back_off_doubles_after_the_threshold_and_is_capped():
    assert throttle.lock_duration(4, 5) is None
    assert throttle.lock_duration(5, 5) == timedelta(minutes=1)
    assert throttle.lock_duration(6, 5) == timedelta(minutes=2)
    assert throttle.lock_duration(8, 5) == timedelta(minutes=8)
    assert throttle.lock_duration(500, 5) == throttle.LONGEST_LOCK


def test_key_locks_at_the_threshold_and_unlocks_when_the_back_off_has_passed(make_node):
    node = make_node()
    clock = MovableClock()
    ctx = context(node, clock)
    assert fail(node, clock, throttle.ACCOUNT_THRESHOLD - 1) is None
    assert retry_after(ctx, [KEY]) is None
    assert fail(node, clock) == 60
    assert retry_after(ctx, [KEY]) == 60
    clock.advance(seconds=59)
    assert retry_after(ctx, [KEY]) == 1
    clock.advance(seconds=1)
    assert retry_after(ctx, [KEY]) is None
    assert fail(node, clock) == 120, "the next failure after a lock doubles the back-off"


def test_clear_forgets_the_failures_of_a_key(make_node):
    node = make_node()
    clock = MovableClock()
    fail(node, clock, throttle.ACCOUNT_THRESHOLD)
    ctx = context(node, clock)
    ctx.direct_reads.write(DirectStatement(throttle.CLEAR), {"key": KEY})  # as a successful sign-in's batch does
    assert retry_after(ctx, [KEY]) is None
    assert fail(node, clock) is None


def test_failures_older_than_a_day_are_forgotten(make_node):
    node = make_node()
    clock = MovableClock()
    fail(node, clock, throttle.ACCOUNT_THRESHOLD - 1)
    clock.advance(hours=25)
    assert fail(node, clock) is None
    with Session(node.engine) as db:
        assert db.get(LoginThrottle, KEY).failures == 1


def test_concurrent_failures_are_each_counted_once(make_node):
    node = make_node()
    clock = MovableClock()
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        fail(node, clock, 2, threshold=1000)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(node.engine) as db:
        assert db.get(LoginThrottle, KEY).failures == 16
