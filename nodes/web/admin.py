"""The organisation's admin pages: overview, roster import, members (search, invitations) and the audit log.

Every page is behind :data:`AdminDep` (403 for a signed-in member who is not an administrator) and every POST
checks the CSRF token before the request body is used; a refused roster stores nothing but its audit event.
Pages are ``no-store``: they list personal data. Admin actions are audited (``roster.import``, ``member.invited``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from nodes.roster.apply import ImportReport, import_roster
from nodes.roster.parse import human_size, read_capped
from nodes.roster.problems import RosterFileError
from nodes.web import admin_queries as queries
from nodes.web.deps import AdminDep, CsrfChecked, peer_address, require_admin
from nodes.web.errors import ProblemError
from nodes.web.pages import language, render
from nodes.web.redirects import safe_next
from nodes.web.sessions import node_of

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])
NO_STORE = {"Cache-Control": "no-store"}
ERRORS_SHOWN = 500



@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    with Session(node_of(request).engine) as db:
        counts = queries.overview_counts(db)
        last_import = queries.last_event(db, "roster.import")
    return render(request, "admin/overview.html", {"counts": counts, "last_import": last_import}, headers=NO_STORE)


# --- roster import --------------------------------------------------------------------------------------------


def _roster_page(request: Request, report: ImportReport | None = None, status_code: int = 200,
                 **extra: Any) -> HTMLResponse:
    lang = language(request)
    context: dict[str, Any] = {
        "report": report, "limit": human_size(node_of(request).settings.roster_max_bytes),
        "errors": [e.message(lang) for e in report.errors[:ERRORS_SHOWN]] if report else [],
        "more_errors": max(0, len(report.errors) - ERRORS_SHOWN) if report else 0,
        "invited": None, "invite_failed": 0, **extra,
    }
    return render(request, "admin/roster.html", context, status_code=status_code, headers=NO_STORE)


@router.get("/roster", response_class=HTMLResponse)
def roster_form(request: Request) -> HTMLResponse:
    return _roster_page(request)


@router.post("/roster", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def roster_upload(request: Request, admin: AdminDep) -> HTMLResponse:
    """Check the whole file, import it in one transaction, then invite the new members.

    The body cap of :mod:`nodes.web.limits` has already refused an upload far over ``roster_max_bytes``; the file
    itself is read with the exact cap.
    """
    node = node_of(request)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _roster_page(request, status_code=400, missing_file=True)
    try:
        data = await run_in_threadpool(read_capped, upload.file, node.settings.roster_max_bytes)
    except RosterFileError as exc:
        return _roster_page(request, ImportReport(errors=[exc.error]), status_code=413)
    report = await run_in_threadpool(
        lambda: import_roster(node, data, actor=admin.public_id, ip=peer_address(request), source=upload.filename,
                              skip_invalid=form.get("skip_invalid") == "1")
    )
    if not report.imported:
        return _roster_page(request, report, status_code=400)
    invited: int | None = None
    failed = 0
    if form.get("send_invitations") == "1" and report.new_member_ids:
        invited, failed = await run_in_threadpool(_invite, request, admin.public_id, report.new_member_ids)
    return _roster_page(request, report, invited=invited, invite_failed=failed)


def _invite_one(request: Request, actor: str, public_id: str) -> int:
    """Invite the member of ``public_id`` (404 for nobody); how many invitations were sent (0 or 1)."""
    with Session(node_of(request).engine) as db:
        member_id = queries.member_id_of(db, public_id)
    if member_id is None:
        raise ProblemError(404, "not_found", "No such member.")
    return _invite(request, actor, [member_id])[0]


def _invite(request: Request, actor: str, member_ids: list[int]) -> tuple[int, int]:
    """Send invitations (after the import committed); return how many were sent and how many failed."""
    from nodes.invitations import InvitationDeliveryError, issue_invitations

    try:
        return len(issue_invitations(node_of(request), member_ids, actor=actor)), 0
    except InvitationDeliveryError as exc:
        return len(exc.delivered), len(exc.failed)


# --- members --------------------------------------------------------------------------------------------------


@router.get("/members", response_class=HTMLResponse)
def members(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    invited: Annotated[str, Query(max_length=40)] = "",
    failed: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    node = node_of(request)
    with Session(node.engine) as db:
        found, total = queries.search_members(db, q, page)
        details = queries.member_details(db, found, node.clock())
    context = {
        "q": q, "page": page, "total": total, "pages": queries.page_count(total), "rows": details,
        "invited": invited, "failed": failed, "back": "/admin/members?" + urlencode({"q": q, "page": page}),
    }
    return render(request, "admin/members.html", context, headers=NO_STORE)


@router.post("/members/{public_id}/invite", dependencies=[CsrfChecked])
async def invite_member(request: Request, public_id: str, admin: AdminDep) -> Response:
    """(Re)send the member's invitation; the earlier unused link stops working (see :mod:`nodes.invitations`)."""
    form = await request.form()
    back = safe_next(str(form.get("back") or ""), "/admin/members")
    sent = await run_in_threadpool(_invite_one, request, admin.public_id, public_id)
    flag = "invited" if sent else "failed"
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{flag}={public_id}", status_code=303, headers=NO_STORE)


# --- audit log ------------------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    action: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    with Session(node_of(request).engine) as db:
        events, total = queries.audit_page(db, action, page)
        actions = queries.audit_actions(db)
    context = {"events": events, "action": action, "actions": actions, "page": page, "total": total,
               "pages": queries.page_count(total)}
    return render(request, "admin/audit.html", context, headers=NO_STORE)
