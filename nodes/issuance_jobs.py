"""Issuing to the whole roster from the admin pages: a job row that any worker can show, run in a thread.

The page that starts the job answers at once with a link to the job's page, which refreshes itself until the
job is done. The counters are written after every batch (each batch is its own transaction, see
:mod:`nodes.issuance`), so a job interrupted by a crash keeps what it issued; running it again issues only what is
still missing. A job whose counters have not moved for :data:`STALE_AFTER` is shown as interrupted.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from sqlmodel import Session, col, select

from nodes.audit import record
from nodes.clock import aware
from nodes.context import NodeContext
from nodes.issuance import issue_affiliations, pending_affiliations
from nodes.storage.credential_tables import IssuanceJob
from nodes.storage.db import transaction

log = logging.getLogger("passerelle.issuance")
STALE_AFTER = timedelta(minutes=2)


def start_job(node: NodeContext, *, actor: str, open_badge: bool = False, ip: str | None = None) -> str:
    """Record a job and start it in a background thread; returns the job id."""
    job_id = uuid.uuid4().hex
    now = node.clock()
    with transaction(node.engine) as db:
        db.add(IssuanceJob(id=job_id, actor=actor, open_badge=open_badge, created_at=now, updated_at=now))
        record(db, node.clock, actor, "credential.issue.roster", target=job_id, ip=ip, open_badge=open_badge)
    thread = threading.Thread(target=run_job, args=(node, job_id), name=f"issuance-{job_id[:8]}", daemon=True)
    thread.start()
    return job_id


def run_job(node: NodeContext, job_id: str) -> None:
    """Issue every missing credential, updating the job's counters after each batch."""
    with Session(node.engine) as db:
        job = db.get(IssuanceJob, job_id)
        if job is None:
            return
        pending = pending_affiliations(db, open_badge=job.open_badge)
    _update(node, job_id, state="running", total=len(pending))
    try:
        report = issue_affiliations(node, pending, actor=job.actor, open_badge=job.open_badge,
                                    progress=lambda done, _total: _update(node, job_id, done=done))
    except Exception:
        log.exception("bulk issuance failed")
        _update(node, job_id, state="failed", finished=True, message="The issuance stopped on an error; what was "
                "issued is kept. Start it again to issue the rest.")
        return
    message = f"{len(report.skipped)} affiliations could not be stated and were skipped" if report.skipped else None
    _update(node, job_id, state="done", done=len(pending), finished=True, message=message)


def _update(node: NodeContext, job_id: str, *, state: str | None = None, total: int | None = None,
            done: int | None = None, finished: bool = False, message: str | None = None) -> None:
    with transaction(node.engine) as db:
        job = db.get(IssuanceJob, job_id)
        if job is None:
            return
        now = node.clock()
        job.state = state or job.state
        job.total = job.total if total is None else total
        job.done = job.done if done is None else done
        job.updated_at = now
        job.finished_at = now if finished else job.finished_at
        job.message = message or job.message
        db.add(job)


def job_view(node: NodeContext, job_id: str) -> IssuanceJob | None:
    """The job, with ``state`` shown as ``interrupted`` when it stopped moving without finishing."""
    with Session(node.engine) as db:
        job = db.get(IssuanceJob, job_id)
    if job is not None and job.state in ("queued", "running") and node.clock() - aware(job.updated_at) > STALE_AFTER:
        job.state = "interrupted"
    return job


def recent_jobs(node: NodeContext, limit: int = 5) -> list[IssuanceJob]:
    with Session(node.engine) as db:
        return list(db.exec(select(IssuanceJob).order_by(col(IssuanceJob.created_at).desc()).limit(limit)))
