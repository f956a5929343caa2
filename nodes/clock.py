"""The node's clock: one place to read the time, so tests can move it (issue tests, throttling back-off)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC, so make it aware again."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
