"""The member's credentials: list, download as JSON, QR code, and each affiliation on request as a credential or
as an Open Badges 3.0 ``OpenBadgeCredential``.

Only the signed-in member's own credentials are ever shown or downloaded (another id is 404, as if it did not
exist). Requests are POST forms with the CSRF token, audited with the member as actor like any issuance.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from nodes.context import NodeContext
from nodes.credentials_service import member_rows
from nodes.issuance import OPEN_BADGE, issue_affiliations, pending_affiliations
from nodes.qr import compact_json, qr_data_uri
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.models import Affiliation, Member
from nodes.web.deps import CsrfChecked, MemberDep, peer_address
from nodes.web.errors import ProblemError
from nodes.web.member import describe
from nodes.web.pages import language, render
from nodes.web.sessions import node_of

router = APIRouter(prefix="/me/credentials")
NO_STORE = {"Cache-Control": "no-store"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9-]")


@router.get("", response_class=HTMLResponse)
def my_credentials(request: Request, member: MemberDep) -> HTMLResponse:
    node, lang = node_of(request), language(request)
    rows = member_rows(node, _id(member))
    with Session(node.engine) as db:
        affiliations = list(db.exec(select(Affiliation).where(Affiliation.member_id == member.id)
                                    .order_by(col(Affiliation.id))))
        missing = set(pending_affiliations(db, open_badge=False, member_id=member.id))
        missing_badges = set(pending_affiliations(db, open_badge=True, member_id=member.id))
    described = {row.id: describe(row, lang) for row in affiliations}
    credentials = [_card(row, described.get(row.affiliation_id)) for row in rows]
    offers = [{"id": row.id, "heading": described[row.id]["heading"], "credential": row.id in missing,
               "badge": row.id in missing_badges} for row in affiliations]
    return render(request, "me_credentials.html", {"credentials": credentials, "offers": offers},
                  headers=NO_STORE)


def _card(row: IssuedCredential, affiliation: dict[str, Any] | None) -> dict[str, Any]:
    data = compact_json(row.document)
    return {"row": row, "heading": affiliation["heading"] if affiliation else row.credential_type,
            "badge": row.credential_type == OPEN_BADGE, "qr": qr_data_uri(data) if row.state == "active" else None,
            "size": len(data)}


@router.get("/download")
def download(request: Request, member: MemberDep, id: str) -> Response:
    """The signed credential as a JSON file; 404 for any id that is not one of the member's own."""
    with Session(node_of(request).engine) as db:
        row = db.get(IssuedCredential, id[:200])
    if row is None or row.member_id != member.id:
        raise ProblemError(404, "not_found", "No such credential.")
    name = _SAFE_NAME.sub("-", row.id.rsplit(":", 1)[-1])[:60]
    return Response(compact_json(row.document), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="credential-{name}.json"', **NO_STORE})


@router.post("/request", dependencies=[CsrfChecked])
async def request_credential(request: Request, member: MemberDep) -> Response:
    """Issue the missing credential (or Open Badge) of one of the member's own affiliations."""
    form = await request.form()
    raw, open_badge = str(form.get("affiliation") or ""), form.get("form") == "open_badge"
    if not raw.isdigit() or len(raw) > 12:
        raise ProblemError(400, "invalid_request", "Unknown affiliation.")
    await run_in_threadpool(_issue_own, node_of(request), member, int(raw), open_badge, peer_address(request))
    return RedirectResponse("/me/credentials", status_code=303, headers=NO_STORE)


def _issue_own(node: NodeContext, member: Member, affiliation_id: int, open_badge: bool, ip: str | None) -> None:
    """Issue what is missing for one of ``member``'s affiliations (404 for anyone else's), in a worker thread."""
    with Session(node.engine) as db:
        pending = pending_affiliations(db, open_badge=open_badge, member_id=member.id,
                                       affiliation_ids=[affiliation_id])
        owned = db.get(Affiliation, affiliation_id)
    if owned is None or owned.member_id != member.id:
        raise ProblemError(404, "not_found", "Unknown affiliation.")
    if pending:
        issue_affiliations(node, pending, actor=member.public_id, ip=ip, open_badge=open_badge)


def _id(member: Member) -> int:
    assert member.id is not None
    return member.id
