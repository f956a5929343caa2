"""Expired rows that can no longer serve anyone are deleted, a day after they expired.

Every refresh grant inserts a token row and every visit may open a browser session: without this the tables and
their indexes would grow for ever, and every lookup would pay for it. Each serving worker runs :func:`purge_expired`
every ``housekeeping_interval_seconds`` (:func:`run_periodically`); ``passerelle db purge`` runs it once.

What goes (:data:`GRACE` after the moment it stopped being usable, so that logs can still be matched to rows):

- an OpenID Connect token row once its access token and its refresh token, if any, have both expired. A rotated
  refresh token is kept until its own expiry: presenting it again until then still revokes its whole family (reuse
  detection, RFC 9700 §4.14.2); after it, it is refused as unknown, as any expired token is;
- an authorization code once expired and no longer referenced by a token: a used code stays while the tokens of
  its first use exist, so a replay still revokes them;
- a browser session, a parked authorization request, a used client-assertion ``jti`` once expired;
- a failure counter of ``login_throttle`` (an account, an address, a client at an address) once its latest failure
  is older than :data:`nodes.throttle.FORGET_AFTER` (a day): the next failure would start it again at one, and its
  lock, an hour at most after that failure, has passed. Failed attempts from ever new addresses would otherwise fill
  the table.

Nothing a member sees goes: "Connected platforms" and the consent receipts read ``oidc_grant``, and the audit log is
append-only. Deletes go in batches of :data:`BATCH` rows, each committed on its own, so a SQLite writer never waits
long behind this.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, select

from nodes import throttle
from nodes.context import NodeContext
from nodes.storage.direct import DirectStatement
from nodes.storage.models import LoginThrottle, WebSession
from nodes.storage.oidc_tables import OidcAssertionJti, OidcCode, OidcInteraction, OidcToken

GRACE = timedelta(days=1)
BATCH = 1000

log = logging.getLogger("passerelle.housekeeping")


def _batched(table: Any, key: Any, where: Any) -> DirectStatement:
    """``DELETE`` at most :data:`BATCH` rows matching ``where``, chosen by their primary key ``key``. The delete
    checks ``where`` again: on PostgreSQL a row updated after the subquery chose it (a failure counted again) is
    re-read when its lock is released, and only the outer condition is evaluated on the new version."""
    chosen = key.in_(select(key).where(where).limit(BATCH).scalar_subquery())
    return DirectStatement(delete(table).where(chosen, where))


_TOKENS = OidcToken.__table__  # type: ignore[attr-defined]
_CODES = OidcCode.__table__  # type: ignore[attr-defined]
_SESSIONS = WebSession.__table__  # type: ignore[attr-defined]
_INTERACTIONS = OidcInteraction.__table__  # type: ignore[attr-defined]
_JTIS = OidcAssertionJti.__table__  # type: ignore[attr-defined]
_THROTTLE = LoginThrottle.__table__  # type: ignore[attr-defined]
_CUTOFF: Any = bindparam("cutoff")

# Each purge with how long before now a row must have stopped serving.
_PURGES = {
    # A refresh token outlives its access token: the row is usable until the later one expires. The expression is
    # the one indexed (ix_oidc_token_usable_until), so only the rows to delete are read.
    "tokens": (_batched(_TOKENS, _TOKENS.c.id,
                        func.coalesce(_TOKENS.c.refresh_expires_at, _TOKENS.c.access_expires_at) < _CUTOFF), GRACE),
    "codes": (_batched(_CODES, _CODES.c.id, and_(
        _CODES.c.expires_at < _CUTOFF, ~exists().where(_TOKENS.c.code_id == _CODES.c.id))), GRACE),
    "sessions": (_batched(_SESSIONS, _SESSIONS.c.token_hash, _SESSIONS.c.expires_at < _CUTOFF), GRACE),
    "interactions": (_batched(_INTERACTIONS, _INTERACTIONS.c.id_hash, _INTERACTIONS.c.expires_at < _CUTOFF), GRACE),
    "assertion_ids": (_batched(_JTIS, _JTIS.c.key, _JTIS.c.expires_at < _CUTOFF), GRACE),
    # Failures older than FORGET_AFTER are forgotten: the next one would start the counter again at one.
    "failure_counters": (_batched(_THROTTLE, _THROTTLE.c.key, _THROTTLE.c.last_failure_at < _CUTOFF),
                         throttle.FORGET_AFTER),
}


@dataclass
class PurgeReport:
    """How many rows of each kind were deleted."""

    tokens: int = 0
    codes: int = 0
    sessions: int = 0
    interactions: int = 0
    assertion_ids: int = 0
    failure_counters: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, item.name) for item in fields(self))


def purge_expired(node: NodeContext, now: datetime | None = None) -> PurgeReport:
    """Delete what expired more than :data:`GRACE` before ``now`` (the node's clock by default), and the failure
    counters forgotten by then.

    Tokens go before codes: a code becomes deletable once the tokens of its first use are gone."""
    now = now or node.clock()
    report = PurgeReport()
    for name, (statement, age) in _PURGES.items():
        cutoff = now - age
        deleted = BATCH
        while deleted == BATCH:
            deleted = node.direct_reads.write(statement, {"cutoff": cutoff})
            setattr(report, name, getattr(report, name) + deleted)
    return report


async def run_periodically(node: NodeContext, interval: float) -> None:
    """:func:`purge_expired` every ``interval`` seconds, in a worker thread, until cancelled.

    A failure (the database is down, say) is logged and tried again at the next interval; it never stops the
    node."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await asyncio.to_thread(purge_expired, node)
        except Exception:
            log.warning("housekeeping failed; trying again in %s s", interval, exc_info=True)
            continue
        if report.total:
            log.info("housekeeping deleted expired rows", extra={"deleted": report.__dict__})
