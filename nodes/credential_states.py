"""Suspend, reinstate and revoke an issued credential: the state, its status bits and the audit event, together.

One transaction per change: the credential's ``state`` is updated only if it is still what was read (a concurrent
change is detected, not overwritten), then the bit of each affected list is written and that list's version bumped,
then the audit event is added with the administrator's reason. It commits before the caller answers, so a
revocation that was acknowledged is durable (SECURITY X2). Revocation is final: a revoked credential cannot be
reinstated or suspended.

Each purpose's bit follows the state: the revocation bit is 1 exactly when ``revoked``, the suspension bit exactly
when ``suspended``. So revoking or suspending an active credential flips exactly one bit (S8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col

from credentials.status.documents import IssuedPurpose
from nodes.audit import record
from nodes.context import NodeContext
from nodes.problems import Problem
from nodes.status_lists import STATE_BITS, set_bits
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.db import transaction

Action = Literal["revoke", "suspend", "reinstate"]
TARGET: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}
ALLOWED_FROM: dict[Action, tuple[str, ...]] = {
    "revoke": ("active", "suspended"), "suspend": ("active",), "reinstate": ("suspended",),
}
REASON_MAX = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class StateProblem(Problem):
    """The change is refused: ``status`` 404 (no such credential), 409 (not from this state) or 400 (the reason)."""


@dataclass(frozen=True)
class StateChange:
    credential_id: str
    before: str
    after: str


def check_reason(reason: str | None) -> str:
    """A reason is required (it goes to the audit log), one to 500 characters, without control characters."""
    text = (reason or "").strip()
    if not text:
        raise StateProblem(400, "invalid_request", "a reason is required")
    if len(text) > REASON_MAX or _CONTROL.search(text):
        raise StateProblem(400, "invalid_request", f"the reason must be at most {REASON_MAX} characters, without "
                           "control characters")
    return text


def change_state(node: NodeContext, credential_id: str, action: Action, reason: str | None, *, actor: str,
                 ip: str | None = None) -> StateChange:
    """Apply ``action`` to the credential; raises :class:`StateProblem` when it does not exist or may not change."""
    text = check_reason(reason)
    target = TARGET[action]
    with Session(node.engine) as db:
        row = db.get(IssuedCredential, credential_id)
    if row is None:
        raise StateProblem(404, "not_found", "no credential with this id was issued by this node")
    if row.state == target:
        raise StateProblem(409, "conflict", f"the credential is already {target}")
    if row.state not in ALLOWED_FROM[action]:
        raise StateProblem(409, "conflict", f"a {row.state} credential cannot be changed to {target}")
    with transaction(node.engine) as db:
        now = node.clock()
        changed = db.exec(
            update(IssuedCredential)
            .where(col(IssuedCredential.id) == credential_id, col(IssuedCredential.state) == row.state)
            .values(state=target, state_reason=text, state_changed_at=now)
        ).rowcount
        if changed != 1:
            raise StateProblem(409, "conflict", "the credential was changed meanwhile; reload and try again")
        set_bits(db, row.status_list, _bit_changes(row.state, target, row.status_index), now)
        record(db, node.clock, actor, f"credential.{action}", target=credential_id, ip=ip, reason=text,
               before=row.state, after=target)
    return StateChange(credential_id, row.state, target)


def _bit_changes(before: str, after: str, index: int) -> dict[IssuedPurpose, dict[int, int]]:
    changes: dict[IssuedPurpose, dict[int, int]] = {}
    old, new = STATE_BITS[before], STATE_BITS[after]
    if old is not None:
        changes[old] = {index: 0}
    if new is not None:
        changes.setdefault(new, {})[index] = 1
    return changes
