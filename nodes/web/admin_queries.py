"""The reads behind the admin pages: counts, member search with affiliations and invitation state, audit pages.

Searches are parameterised LIKE patterns with ``%``, ``_`` and ``\\`` escaped, so a search for ``100%`` or
``'; DROP TABLE`` is a search for those characters (SECURITY B1).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from nodes.clock import aware
from nodes.storage.models import Affiliation, AuditEvent, Invitation, Member

PAGE_SIZE = 50
SEARCH_WORDS = 5
DETAIL_CHARS = 300


def page_count(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


def _count(db: Session, *conditions: Any, model: Any = Member) -> int:
    return int(db.exec(select(func.count()).select_from(model).where(*conditions)).one())


def overview_counts(db: Session) -> dict[str, int]:
    return {
        "members": _count(db),
        "claimed": _count(db, col(Member.claimed_at).is_not(None)),
        "admins": _count(db, col(Member.is_admin).is_(True)),
        "affiliations": _count(db, model=Affiliation),
        "audit_events": _count(db, model=AuditEvent),
    }


def last_event(db: Session, action: str) -> AuditEvent | None:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id).desc()).limit(1)
    return db.exec(query).first()


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_members(db: Session, q: str, page: int) -> tuple[list[Member], int]:
    """Members whose name or e-mail contains every word of ``q``, by family name, and their total number."""
    conditions = []
    for word in q.split()[:SEARCH_WORDS]:
        pattern = _like(word)
        conditions.append(or_(
            col(Member.given_name).ilike(pattern, escape="\\"),
            col(Member.family_name).ilike(pattern, escape="\\"),
            col(Member.email_key).ilike(_like(word.casefold()), escape="\\"),
        ))
    total = _count(db, *conditions)
    query = (select(Member).where(*conditions)
             .order_by(col(Member.family_name), col(Member.given_name), col(Member.id))
             .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return list(db.exec(query)), total


def summary(row: Affiliation) -> str:
    """One line per affiliation: ``programme, degree (year) [groups]`` or ``role, department (start – end)``."""
    if row.kind == "company":
        period = f"{row.start_date or ''} – {row.end_date or '…'}"
        return f"{row.role}, {row.department} ({period})"
    groups = f" [{'; '.join(row.groups)}]" if row.groups else ""
    return f"{row.programme}, {row.degree} ({row.class_year}){groups}"


def _invitation_state(member: Member, invitation: Invitation | None, now: datetime) -> str:
    if member.claimed_at is not None:
        return "claimed"
    if invitation is None:
        return "not_invited"
    if invitation.used_at is None and aware(invitation.expires_at) > now:
        return "invited"
    return "expired"


def member_details(db: Session, members: list[Member], now: datetime) -> list[dict[str, Any]]:
    """Each member with their affiliations and the state of their newest invitation."""
    ids = [m.id for m in members]
    affiliations: dict[int | None, list[str]] = {i: [] for i in ids}
    for row in db.exec(select(Affiliation).where(col(Affiliation.member_id).in_(ids)).order_by(col(Affiliation.id))):
        affiliations[row.member_id].append(summary(row))
    newest: dict[int, Invitation] = {}
    for invitation in db.exec(select(Invitation).where(col(Invitation.member_id).in_(ids))
                              .order_by(col(Invitation.id))):
        newest[invitation.member_id] = invitation
    return [
        {"member": m, "affiliations": affiliations[m.id],
         "state": _invitation_state(m, newest.get(m.id or 0), now),
         "expires": newest[m.id].expires_at if m.id in newest else None}
        for m in members
    ]


def member_id_of(db: Session, public_id: str) -> int | None:
    return db.exec(select(Member.id).where(Member.public_id == public_id)).first()


def audit_page(db: Session, action: str, page: int) -> tuple[list[dict[str, Any]], int]:
    """A page of audit events, newest first, optionally of one ``action`` only."""
    conditions = [col(AuditEvent.action) == action] if action else []
    total = _count(db, *conditions, model=AuditEvent)
    query = (select(AuditEvent).where(*conditions).order_by(col(AuditEvent.id).desc())
             .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    events = []
    for event in db.exec(query):
        detail = json.dumps(event.detail, ensure_ascii=False, sort_keys=True, default=str)
        shown = detail if len(detail) <= DETAIL_CHARS else detail[:DETAIL_CHARS] + "…"
        events.append({"event": event, "detail": shown})
    return events, total


def audit_actions(db: Session) -> list[str]:
    return list(db.exec(select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))))
