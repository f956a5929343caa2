"""Issuing credentials: allocate status indexes, sign with the current key and record, in one transaction per batch.

Each batch is one transaction: reserve indexes in the open status list (:func:`nodes.status_lists.allocate`),
add the status entries, sign every credential with the node's current Ed25519 key (``verificationMethod`` is the
node's ``did:web`` + ``#`` + key id), insert the rows and the audit event. A failure anywhere rolls all of it back:
no credential without its index, no index used twice, nothing signed that is not recorded (SECURITY X5).

Affiliation credentials are built from the roster (:mod:`credentials.affiliation`, or :mod:`credentials.open_badges`
for the Open Badges 3.0 form) and checked before any transaction starts, so one bad affiliation is reported and
skipped without costing an index. Arbitrary credentials posted to the VC-API go through :mod:`nodes.issue_document`.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from credentials import affiliation as vc_affiliation
from credentials.data_integrity import create_proof
from credentials.errors import CredentialError
from credentials.open_badges import open_badge_credential
from nodes import keyring
from nodes.audit import record
from nodes.context import NodeContext
from nodes.status_lists import NoOpenList, RandomBelow, allocate, open_list, status_entries
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.db import transaction
from nodes.storage.models import Affiliation, Member

BATCH = 200
ATTEMPTS = 6
OPEN_BADGE = "OpenBadgeCredential"
Build = Callable[[list[dict[str, str]]], dict[str, Any]]
"""Builds the unsigned credential once its ``credentialStatus`` entries are known."""
Progress = Callable[[int, int], None]


class IssuanceProblem(Exception):
    """Issuance refused; ``status``, ``code`` and ``detail`` (safe to show) become the problem+json answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Pending:
    """One credential to issue: what it is about and how to build it."""

    credential_id: str
    credential_type: str
    build: Build
    member_id: int | None = None
    affiliation_id: int | None = None


@dataclass
class IssueReport:
    issued: list[IssuedCredential] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (affiliation id, reason)


def new_credential_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def issue(node: NodeContext, items: Sequence[Pending], *, actor: str, ip: str | None = None,
          idempotency: tuple[str, str] | None = None, below: RandomBelow = secrets.randbelow) -> list[IssuedCredential]:
    """Issue ``items`` in one transaction (retried on a lost race); returns the recorded rows."""
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    method = f"{node.did}#{key.kid}"
    for _ in range(ATTEMPTS):
        try:
            with transaction(node.engine) as db:
                number, indexes = allocate(db, len(items), below)
                now = node.clock()
                rows = []
                for item, index in zip(items, indexes, strict=True):
                    signed = create_proof(item.build(status_entries(node, number, index)), key=key,
                                          verification_method=method, loader=node.loader, clock=node.clock)
                    rows.append(IssuedCredential(
                        id=item.credential_id, member_id=item.member_id, affiliation_id=item.affiliation_id,
                        credential_type=item.credential_type, document=signed, status_list=number,
                        status_index=index, created_at=now, created_by=actor,
                        idempotency_key=idempotency[0] if idempotency else None,
                        request_hash=idempotency[1] if idempotency else None,
                    ))
                db.add_all(rows)
                db.flush()
                _audit(db, node, actor, ip, rows)
            return rows
        except NoOpenList:
            _open_list(node)
        except IntegrityError:
            if idempotency is not None or _any_exists(node, [item.credential_id for item in items]):
                raise  # a concurrent request stored this key or id first: the caller decides what to answer
            # Otherwise another issuer took one of our indexes: draw again (SECURITY B4).
        except CredentialError as exc:
            raise IssuanceProblem(400, exc.code, str(exc)[:500]) from exc
    raise IssuanceProblem(503, "temporarily_unavailable", "No status list index could be reserved; try again.")


def _any_exists(node: NodeContext, ids: list[str]) -> bool:
    with Session(node.engine) as db:
        return db.exec(select(IssuedCredential.id).where(col(IssuedCredential.id).in_(ids))).first() is not None


def _open_list(node: NodeContext) -> None:
    with contextlib.suppress(IntegrityError):  # another worker opened it first
        open_list(node)


def _audit(db: Session, node: NodeContext, actor: str, ip: str | None, rows: list[IssuedCredential]) -> None:
    if len(rows) == 1:
        row = rows[0]
        record(db, node.clock, actor, "credential.issue", target=row.id, ip=ip, type=row.credential_type,
               member=row.member_id, status_list=row.status_list)
    else:
        record(db, node.clock, actor, "credential.issue.batch", ip=ip, count=len(rows),
               first=rows[0].id, last=rows[-1].id)


# --- affiliation credentials --------------------------------------------------------------------------------------


def organisation(node: NodeContext) -> vc_affiliation.Organisation:
    return vc_affiliation.Organisation(id=node.did, name=node.settings.display_name, kind=node.settings.kind)


def affiliation_value(node: NodeContext, member: Member, row: Affiliation) -> vc_affiliation.Affiliation:
    """The pure library's view of a roster affiliation, issued in the node's name."""
    org = organisation(node)
    if row.kind != org.kind:
        org = vc_affiliation.Organisation(org.id, org.name, row.kind)  # type: ignore[arg-type]
    return vc_affiliation.Affiliation(
        organisation=org, member_name=f"{member.given_name} {member.family_name}".strip(),
        programme=row.programme, degree=row.degree, class_year=row.class_year, groups=tuple(row.groups or ()),
        role=row.role, department=row.department, start_date=row.start_date, end_date=row.end_date,
    )


def pending_for(node: NodeContext, member: Member, row: Affiliation, *, open_badge: bool = False) -> Pending:
    """The credential of one affiliation, checked now (with placeholder status entries) so a bad one is skipped."""
    value = affiliation_value(node, member, row)
    credential_id, now = new_credential_id(), node.clock()

    def build(entries: list[dict[str, str]]) -> dict[str, Any]:
        if open_badge:
            return open_badge_credential(value, credential_id=credential_id, valid_from=now,
                                         achievement_id=f"{node.settings.base_url}/achievements/{value.organisation.kind}",
                                         credential_status=entries)
        return vc_affiliation.affiliation_credential(value, credential_id=credential_id, valid_from=now,
                                                     credential_status=entries)

    build(status_entries(node, 1, 0))  # raises CredentialError for an affiliation that cannot be stated
    kind = OPEN_BADGE if open_badge else vc_affiliation.credential_type(value)
    return Pending(credential_id, kind, build, member_id=member.id, affiliation_id=row.id)


def pending_affiliations(db: Session, *, open_badge: bool, member_id: int | None = None,
                         affiliation_ids: Sequence[int] | None = None) -> list[int]:
    """Affiliations without a live (active or suspended) credential of the asked form, oldest first."""
    kind = col(IssuedCredential.credential_type)
    live = select(IssuedCredential.affiliation_id).where(
        col(IssuedCredential.affiliation_id).is_not(None), IssuedCredential.state != "revoked",
        kind == OPEN_BADGE if open_badge else kind != OPEN_BADGE,
    )
    query = select(Affiliation.id).where(col(Affiliation.id).not_in(live)).order_by(col(Affiliation.id))
    if member_id is not None:
        query = query.where(Affiliation.member_id == member_id)
    if affiliation_ids is not None:
        query = query.where(col(Affiliation.id).in_(list(affiliation_ids)))
    return [int(i) for i in db.exec(query) if i is not None]


def issue_affiliations(node: NodeContext, affiliation_ids: Sequence[int], *, actor: str, ip: str | None = None,
                       open_badge: bool = False, progress: Progress | None = None) -> IssueReport:
    """Issue a credential for each affiliation, :data:`BATCH` per transaction; reports the issued and the skipped."""
    report = IssueReport()
    total = len(affiliation_ids)
    for start in range(0, total, BATCH):
        chunk = list(affiliation_ids[start:start + BATCH])
        with Session(node.engine) as db:
            pairs = db.exec(select(Affiliation, Member).join(Member, col(Member.id) == Affiliation.member_id)
                            .where(col(Affiliation.id).in_(chunk))).all()
        items = []
        for row, member in pairs:
            try:
                items.append(pending_for(node, member, row, open_badge=open_badge))
            except CredentialError as exc:
                report.skipped.append((int(row.id or 0), str(exc)[:300]))
        if items:
            report.issued += issue(node, items, actor=actor, ip=ip)
        if progress is not None:
            progress(min(start + BATCH, total), total)
    return report
