"""Admin pages for credentials: the issued list, issuing to one member or to the whole roster (a job with a
progress page), and suspending, reinstating or revoking one credential with a reason (audited).

Every page is behind the admin guard; every POST checks the CSRF token first. Pages are ``no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from nodes.context import NodeContext
from nodes.credential_states import StateProblem, change_state
from nodes.issuance import IssueReport, issue_affiliations, pending_affiliations
from nodes.issuance_jobs import job_view, recent_jobs, start_job
from nodes.members import InvalidEmail, email_key
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.models import AuditEvent, Member
from nodes.web.deps import AdminDep, CsrfChecked, peer_address, require_admin
from nodes.web.errors import ProblemError
from nodes.web.pages import render
from nodes.web.sessions import node_of

router = APIRouter(prefix="/admin/credentials", dependencies=[Depends(require_admin)])
NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 50



@router.get("", response_class=HTMLResponse)
def credentials_list(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    issued: Annotated[int | None, Query(ge=0)] = None,
    skipped: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    node = node_of(request)
    query = select(IssuedCredential, Member).join(Member, col(Member.id) == IssuedCredential.member_id,
                                                  isouter=True)
    if q.strip():
        like = f"%{q.strip()}%"
        query = query.where(or_(col(IssuedCredential.id).ilike(like), col(Member.email).ilike(like),
                                col(Member.family_name).ilike(like), col(Member.given_name).ilike(like)))
    with Session(node.engine) as db:
        total = db.exec(select(func.count()).select_from(query.subquery())).one()
        rows = db.exec(query.order_by(col(IssuedCredential.created_at).desc(), col(IssuedCredential.id))
                       .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
        states = dict(db.exec(select(IssuedCredential.state, func.count()).group_by(IssuedCredential.state)).all())
    context = {"rows": rows, "q": q, "page": page, "total": total, "pages": max(1, -(-total // PAGE_SIZE)),
               "states": states, "jobs": recent_jobs(node), "issued": issued, "skipped": skipped}
    return render(request, "admin/credentials.html", context, headers=NO_STORE)


@router.post("/issue", dependencies=[CsrfChecked])
async def issue_to_member(request: Request, admin: AdminDep) -> Response:
    """Issue every missing credential of one member (by e-mail), then come back to the list."""
    form = await request.form()
    email, open_badge = str(form.get("email") or ""), form.get("open_badge") == "1"
    try:
        key = email_key(email)
    except InvalidEmail:
        raise ProblemError(400, "invalid_request", "This is not a valid e-mail address.") from None
    member, report = await run_in_threadpool(_issue_to, node_of(request), key, open_badge, admin.public_id,
                                             peer_address(request))
    target = "/admin/credentials?" + urlencode({"q": member.email, "issued": len(report.issued),
                                                "skipped": len(report.skipped)})
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _issue_to(node: NodeContext, key: str, open_badge: bool, actor: str,
              ip: str | None) -> tuple[Member, IssueReport]:
    """Issue what is missing for the member of e-mail ``key`` (404 for nobody), in a worker thread."""
    with Session(node.engine) as db:
        member = db.exec(select(Member).where(Member.email_key == key)).first()
        pending = pending_affiliations(db, open_badge=open_badge, member_id=member.id) if member else []
    if member is None:
        raise ProblemError(404, "not_found", "No member has this e-mail address.")
    return member, issue_affiliations(node, pending, actor=actor, ip=ip, open_badge=open_badge)


@router.post("/issue-all", dependencies=[CsrfChecked])
async def issue_to_roster(request: Request, admin: AdminDep) -> Response:
    form = await request.form()
    job_id = await run_in_threadpool(lambda: start_job(node_of(request), actor=admin.public_id,
                                                       open_badge=form.get("open_badge") == "1",
                                                       ip=peer_address(request)))
    return RedirectResponse(f"/admin/credentials/jobs/{job_id}", status_code=303, headers=NO_STORE)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    job = job_view(node_of(request), job_id[:40])
    if job is None:
        raise ProblemError(404, "not_found", "No such issuance job.")
    percent = 100 if job.state == "done" else (100 * job.done // job.total if job.total else 0)
    running = job.state in ("queued", "running")
    # While the job runs the page reloads itself every two seconds (the Refresh header needs no script).
    headers = {**NO_STORE, "Refresh": "2"} if running else NO_STORE
    return render(request, "admin/credentials_job.html", {"job": job, "percent": percent, "running": running},
                  headers=headers)


@router.get("/view", response_class=HTMLResponse)
def credential_page(request: Request, id: Annotated[str, Query(max_length=200)]) -> HTMLResponse:
    return _credential_page(request, id)


def _credential_page(request: Request, credential_id: str, problem: str | None = None,
                     status_code: int = 200) -> HTMLResponse:
    node = node_of(request)
    with Session(node.engine) as db:
        row = db.get(IssuedCredential, credential_id)
        member = db.get(Member, row.member_id) if row is not None and row.member_id is not None else None
        history = list(db.exec(select(AuditEvent).where(AuditEvent.target == credential_id)
                               .order_by(col(AuditEvent.at))))
    if row is None:
        raise ProblemError(404, "not_found", "No credential with this id was issued by this node.")
    context: dict[str, Any] = {"row": row, "member": member, "history": history, "problem": problem,
                               "changed": request.query_params.get("changed")}
    return render(request, "admin/credential.html", context, status_code=status_code, headers=NO_STORE)


@router.post("/state", dependencies=[CsrfChecked])
async def credential_state(request: Request, admin: AdminDep) -> Response:
    """Suspend, reinstate or revoke: committed (and the status list changed) before the answer (SECURITY X2)."""
    node = node_of(request)
    form = await request.form()
    credential_id, action = str(form.get("id") or "")[:200], str(form.get("action") or "")
    if action not in ("revoke", "suspend", "reinstate"):
        raise ProblemError(400, "invalid_request", "Unknown action.")
    try:
        await run_in_threadpool(lambda: change_state(node, credential_id, action,  # type: ignore[arg-type]
                                                     str(form.get("reason") or ""), actor=admin.public_id,
                                                     ip=peer_address(request)))
    except StateProblem as exc:
        if exc.status == 404:
            raise ProblemError(404, "not_found", exc.detail) from None
        return await run_in_threadpool(_credential_page, request, credential_id,
                                       exc.code if exc.status == 409 else "reason", status_code=exc.status)
    target = "/admin/credentials/view?" + urlencode({"id": credential_id, "changed": action})
    return RedirectResponse(target, status_code=303,
                            headers=NO_STORE)
