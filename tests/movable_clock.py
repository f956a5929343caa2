"""A clock that tests move by hand, passed to ``create_app(settings, clock=...)`` or ``live_node(clock=...)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """Starts at the real current time (so stored rows look ordinary) and only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``, e.g. ``advance(minutes=2)``."""
        self.now += timedelta(**delta)
        return self.now
