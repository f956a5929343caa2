"""Sign-in throttling against password guessing and spraying (SECURITY W6).

Failures are counted per account (``acct:<email_key>``, so ``Admin@x`` and ``admin@x`` share one counter) and
per client address (``ip:<addr>``, which catches one address trying many accounts). Once a counter reaches its
threshold every further failure locks the key with an exponential back-off: 1 minute, then 2, 4 ... up to an
hour. While a key is locked the sign-in answers 429 with ``Retry-After`` and the password is not even checked,
so a locked account cannot be probed. A successful sign-in clears the account's counter (not the address's);
counters older than a day are forgotten.

The token endpoint counts a client's failed authentications in the same table, with the same back-off, per client
*and* address (``client:<client_id>@<addr>``, :func:`nodes.oidc.store.client_throttle_key`): a client id is
public, so a counter of the id alone would let anyone lock the real client out.

Counters are rows of ``login_throttle`` updated with one atomic upsert, so several workers (and PostgreSQL or
SQLite) count every failure exactly once. Times come from the node's clock, which tests move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from nodes.clock import aware
from nodes.storage.models import LoginThrottle

ACCOUNT_THRESHOLD = 5
ADDRESS_THRESHOLD = 20
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
FORGET_AFTER = timedelta(hours=24)

_TABLE = LoginThrottle.__table__  # type: ignore[attr-defined]
# Every sign-in reads its (at most two) counters and a successful one clears the account's: on the direct pool
# (nodes/storage/direct.py), as the rest of a sign-in's reads and writes.
#: The latest lock of (at most) two keys, parameters ``first`` and ``second``, as a column: a sign-in reads it in the
#: statement that reads the member (nodes/web/auth.py).
LATEST_LOCK = select(func.max(_TABLE.c.locked_until)).where(
    _TABLE.c.key.in_([bindparam("first"), bindparam("second")])).scalar_subquery()
#: Forgetting a key's failures (parameter ``key``): part of a successful sign-in's batch (nodes/web/auth.py).
CLEAR = delete(_TABLE).where(_TABLE.c.key == bindparam("key"))


def account_key(email_key: str) -> str:
    return f"acct:{email_key}"


def address_key(address: str) -> str:
    return f"ip:{address}"


def lock_duration(failures: int, threshold: int) -> timedelta | None:
    """How long a key with ``failures`` is locked after its latest failure (``None`` below the threshold)."""
    if failures < threshold:
        return None
    doublings = min(failures - threshold, 16)
    return min(FIRST_LOCK * (1 << doublings), LONGEST_LOCK)


def lock_keys(keys: Sequence[str]) -> dict[str, str]:
    """The parameters of :data:`LATEST_LOCK` for one or two keys."""
    if not 1 <= len(keys) <= 2:
        raise ValueError("a lock is read for one or two keys")
    return {"first": keys[0], "second": keys[-1]}


def seconds_until(locked_until: datetime | None, now: datetime) -> int | None:
    """Whole seconds (at least one) until ``locked_until``; ``None`` when there is no lock or it has passed."""
    if locked_until is None or aware(locked_until) <= now:
        return None
    return max(1, math.ceil((aware(locked_until) - now).total_seconds()))


def register_failure(db: Session, now: datetime, limits: Sequence[tuple[str, int]]) -> int | None:
    """Count one failure for each ``(key, threshold)``; returns the seconds to wait when a key is now locked."""
    waits = [wait for key, threshold in limits if (wait := _count(db, now, key, threshold)) is not None]
    return max(waits) if waits else None


def _count(db: Session, now: datetime, key: str, threshold: int) -> int | None:
    db.exec(_increment(db, now, key))
    row = db.exec(select(LoginThrottle).where(LoginThrottle.key == key)).one()
    lock = lock_duration(row.failures, threshold)
    if lock is None:
        return None
    row.locked_until = now + lock
    db.add(row)
    db.flush()
    return math.ceil(lock.total_seconds())


def _increment(db: Session, now: datetime, key: str) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE`` adding one failure; a counter idle for a day starts again at one."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(key=key, failures=1, last_failure_at=now)
    stale = table.c.last_failure_at < now - FORGET_AFTER
    return statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"failures": case((stale, 1), else_=table.c.failures + 1), "last_failure_at": now},
    )
