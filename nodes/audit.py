"""The append-only audit log of admin actions and authentication events.

Call :func:`record` inside the transaction of the action it describes, so the event and the action are stored
together or not at all. The database refuses UPDATE and DELETE on the table (migration 0001). Never put a secret,
token or password in ``detail``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert
from sqlmodel import Session

from nodes.clock import Clock
from nodes.storage.models import AuditEvent

_FIELDS = ("at", "actor", "action", "target", "ip", "detail")
#: The event's insert for a direct connection or batch (nodes/storage/direct.py); its parameters: :func:`values`.
INSERT = insert(AuditEvent.__table__).values(  # type: ignore[attr-defined]
    {name: bindparam(name) for name in _FIELDS})


def record(
    session: Session,
    clock: Clock,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to ``session`` (committed with the caller's transaction).

    ``actor`` is a member's public id, ``cli`` or ``anonymous``; ``action`` a dotted verb such as
    ``auth.signin.failed`` or ``roster.import``.
    """
    event = AuditEvent(at=clock(), actor=actor, action=action, target=target, ip=ip, detail=detail)
    session.add(event)
    return event


def values(clock: Clock, actor: str, action: str, target: str | None = None, ip: str | None = None,
           **detail: Any) -> dict[str, Any]:
    """The parameters of :data:`INSERT` for one event (as :func:`record` takes them)."""
    return {"at": clock(), "actor": actor, "action": action, "target": target, "ip": ip, "detail": detail}
