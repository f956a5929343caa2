"""Issuing credentials: draw status indexes, sign with the current key, and record in one transaction per batch.

A batch goes through three steps. :func:`nodes.status_lists.draw` picks free random indexes (read-only); the
credentials are built with their status entries and signed (in this thread, or by a pool of worker processes for a
whole roster: :mod:`nodes.signing_pool`); then one transaction reserves the indexes
(:func:`nodes.status_lists.reserve`), inserts the rows and writes the audit event. A failure anywhere before the
commit rolls all of it back: no credential without its index, no index used twice, nothing handed out that is not
recorded (SECURITY X5). Two issuers that drew the same index meet the ``UNIQUE`` constraint; the later one draws
again and signs again (B4).

For a roster, batches are pipelined: while the workers sign one batch, this thread draws and prepares the next and
records the one before, so every CPU stays busy (issue 3: 100,000 members in under a minute on two cores).

Affiliation credentials are built from the roster (:mod:`credentials.affiliation`, or :mod:`credentials.open_badges`
for the Open Badges 3.0 form); one that cannot be stated is reported and skipped without costing an index.
Arbitrary credentials posted to the VC-API go through :mod:`nodes.issue_document`.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from credentials import affiliation as vc_affiliation
from credentials.errors import CredentialError
from credentials.open_badges import open_badge_credential
from nodes import keyring
from nodes.audit import record
from nodes.context import NodeContext
from nodes.problems import Problem
from nodes.signing_pool import (
    POOL_THRESHOLD,
    Build,
    InProcessSigner,
    Job,
    PoolSigner,
    Signer,
    Signing,
    pool_size,
)
from nodes.status_lists import NoOpenList, RandomBelow, draw, open_list, reserve, status_entries
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.db import transaction
from nodes.storage.models import Affiliation, Member

BATCH = 200
ATTEMPTS = 6
OPEN_BADGE = "OpenBadgeCredential"
Progress = Callable[[int, int], None]


class IssuanceProblem(Problem):
    """Issuance refused; its ``status``, ``code`` and ``detail`` become the problem+json answer."""


@dataclass(frozen=True)
class Pending:
    """One credential to issue: what it is about and how to build it."""

    credential_id: str
    credential_type: str
    build: Build
    member_id: int | None = None
    affiliation_id: int | None = None


@dataclass(frozen=True)
class Issued:
    """A credential as just recorded (the row's columns that callers use)."""

    id: str
    credential_type: str
    document: dict[str, Any]
    status_list: int
    status_index: int
    member_id: int | None = None
    affiliation_id: int | None = None


@dataclass
class IssueReport:
    issued: list[Issued] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (affiliation id, reason)


def new_credential_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def in_process_signer(node: NodeContext) -> InProcessSigner:
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    return InProcessSigner(key, f"{node.did}#{key.kid}", node.loader)


def issue(node: NodeContext, items: Sequence[Pending], *, actor: str, ip: str | None = None,
          idempotency: tuple[str, str] | None = None, below: RandomBelow = secrets.randbelow,
          signer: Signer | None = None) -> list[Issued]:
    """Issue ``items`` as one batch (drawn again on a lost race); returns what was recorded.

    Any credential of the batch that cannot be built or signed refuses the whole batch (:class:`IssuanceProblem`),
    and nothing is reserved or stored.
    """
    signer = signer or in_process_signer(node)
    for _ in range(ATTEMPTS):
        number, indexes = _draw(node, len(items), below)
        now = node.clock()
        outcomes = signer.submit(_jobs(node, items, number, indexes), now).result()
        refused = next((outcome for outcome in outcomes if isinstance(outcome, CredentialError)), None)
        if refused is not None:
            raise IssuanceProblem(400, refused.code, str(refused)[:500])
        signed = [(item, index, cast(dict[str, Any], document))
                  for item, index, document in zip(items, indexes, outcomes, strict=True)]
        try:
            return _record(node, signed, number, now, actor, ip, idempotency)
        except NoOpenList:
            continue  # another issuer filled the list meanwhile
        except IntegrityError:
            if idempotency is not None or _any_exists(node, [item.credential_id for item in items]):
                raise  # a concurrent request stored this key or id first: the caller decides what to answer
            # Otherwise another issuer recorded one of our indexes first: draw again (SECURITY B4).
    raise IssuanceProblem(503, "temporarily_unavailable", "No status list index could be reserved; try again.")


def _draw(node: NodeContext, count: int, below: RandomBelow,
          known: dict[int, set[int]] | None = None) -> tuple[int, list[int]]:
    for _ in range(ATTEMPTS):
        with Session(node.engine) as db:
            try:
                return draw(db, count, below, known)
            except NoOpenList:
                pass
        _open_list(node)
    raise IssuanceProblem(503, "temporarily_unavailable", "No status list index could be reserved; try again.")


def _jobs(node: NodeContext, items: Sequence[Pending], number: int, indexes: Sequence[int]) -> list[Job]:
    return [(item.build, status_entries(node, number, index)) for item, index in zip(items, indexes, strict=True)]


def _record(node: NodeContext, signed: Sequence[tuple[Pending, int, dict[str, Any]]], number: int, now: datetime,
            actor: str, ip: str | None, idempotency: tuple[str, str] | None) -> list[Issued]:
    """Reserve the indexes, insert the rows and the audit event: one transaction."""
    issued = [Issued(item.credential_id, item.credential_type, document, number, index,
                     item.member_id, item.affiliation_id) for item, index, document in signed]
    with transaction(node.engine) as db:
        reserve(db, number, len(issued))
        # A Core INSERT of plain rows: building ORM objects cost more than signing the credentials.
        db.execute(insert(IssuedCredential.__table__), [{  # type: ignore[attr-defined]
            "id": row.id, "member_id": row.member_id, "affiliation_id": row.affiliation_id,
            "credential_type": row.credential_type, "document": row.document, "status_list": number,
            "status_index": row.status_index, "state": "active", "created_at": now, "created_by": actor,
            "idempotency_key": idempotency[0] if idempotency else None,
            "request_hash": idempotency[1] if idempotency else None,
        } for row in issued])
        _audit(db, node, actor, ip, issued)
    return issued


def _any_exists(node: NodeContext, ids: list[str]) -> bool:
    with Session(node.engine) as db:
        return db.exec(select(IssuedCredential.id).where(col(IssuedCredential.id).in_(ids))).first() is not None


def _open_list(node: NodeContext) -> None:
    with contextlib.suppress(IntegrityError):  # another worker opened it first
        open_list(node)


def _audit(db: Session, node: NodeContext, actor: str, ip: str | None, rows: list[Issued]) -> None:
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
    """The credential of one affiliation, built (and checked against its schema) when its status entries are known.

    The builder is a :func:`functools.partial` of the pure library's function, so a worker process can run it.
    """
    value = affiliation_value(node, member, row)
    credential_id, now = new_credential_id(), node.clock()
    build: Build
    if open_badge:
        build = partial(open_badge_credential, value, credential_id=credential_id, valid_from=now,
                        achievement_id=f"{node.settings.base_url}/achievements/{value.organisation.kind}")
    else:
        build = partial(vc_affiliation.affiliation_credential, value, credential_id=credential_id, valid_from=now)
    kind = OPEN_BADGE if open_badge else vc_affiliation.CREDENTIAL_TYPE.get(value.organisation.kind, "")
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
    """Issue a credential for each affiliation, :data:`BATCH` per transaction; reports the issued and the skipped.

    From :data:`nodes.signing_pool.POOL_THRESHOLD` credentials on, with more than one CPU, the batches are signed
    by a pool of worker processes, one per CPU (at most four), while this thread prepares and records the others.
    """
    workers = pool_size()
    if len(affiliation_ids) < POOL_THRESHOLD or workers < 2:
        return _Roster(node, actor, ip, open_badge, progress, in_process_signer(node),
                       secrets.randbelow).run(affiliation_ids)
    key = keyring.current_signing_key(node.engine, node.secret, "credentials")
    with PoolSigner(key, f"{node.did}#{key.kid}", workers) as pool:
        return _Roster(node, actor, ip, open_badge, progress, pool, secrets.randbelow,
                       depth=workers).run(affiliation_ids)


@dataclass
class _Batch:
    items: list[Pending]
    number: int
    indexes: list[int]
    now: datetime
    signing: Signing
    covered: int  # affiliation ids this batch accounts for (issued or skipped), for the progress report


class _Roster:
    """The pipeline of one bulk issuance: up to ``depth`` batches are being signed while one is recorded."""

    def __init__(self, node: NodeContext, actor: str, ip: str | None, open_badge: bool,
                 progress: Progress | None, signer: Signer, below: RandomBelow, depth: int = 0) -> None:
        self.node, self.actor, self.ip, self.open_badge = node, actor, ip, open_badge
        self.progress, self.signer, self.below, self.depth = progress, signer, below, depth
        self.report = IssueReport()
        self.known: dict[int, set[int]] = {}  # indexes taken or drawn, per list (nodes.status_lists.draw)
        self.done = 0

    def run(self, affiliation_ids: Sequence[int]) -> IssueReport:
        total = len(affiliation_ids)
        in_flight: deque[_Batch] = deque()
        for start in range(0, total, BATCH):
            chunk = list(affiliation_ids[start:start + BATCH])
            in_flight.append(self._start(chunk))
            while len(in_flight) > self.depth:
                self._settle(in_flight.popleft(), total)
        while in_flight:
            self._settle(in_flight.popleft(), total)
        return self.report

    def _start(self, chunk: list[int]) -> _Batch:
        with Session(self.node.engine) as db:
            pairs = db.exec(select(Affiliation, Member).join(Member, col(Member.id) == Affiliation.member_id)
                            .where(col(Affiliation.id).in_(chunk))).all()
        items = [pending_for(self.node, member, row, open_badge=self.open_badge) for row, member in pairs]
        now = self.node.clock()
        if not items:
            return _Batch([], 0, [], now, self.signer.submit([], now), len(chunk))
        number, indexes = _draw(self.node, len(items), self.below, self.known)
        return _Batch(items, number, indexes, now, self.signer.submit(_jobs(self.node, items, number, indexes), now),
                      len(chunk))

    def _settle(self, batch: _Batch, total: int) -> None:
        outcomes = batch.signing.result()
        signed = []
        for item, index, outcome in zip(batch.items, batch.indexes, outcomes, strict=True):
            if isinstance(outcome, CredentialError):
                self.report.skipped.append((int(item.affiliation_id or 0), str(outcome)[:300]))
            else:
                signed.append((item, index, outcome))
        if signed:
            try:
                self.report.issued += _record(self.node, signed, batch.number, batch.now, self.actor, self.ip, None)
            except (NoOpenList, IntegrityError):
                # Another issuer took the list's last room or one of these indexes: issue them again from the start.
                self.report.issued += issue(self.node, [item for item, _, _ in signed], actor=self.actor, ip=self.ip,
                                            below=self.below, signer=self.signer)
        self.done += batch.covered
        if self.progress is not None:
            self.progress(min(self.done, total), total)
