"""The member's "Connected platforms" page: what each platform received and when, disconnecting, receipts."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nodes.oidc import consents
from nodes.web.deps import CsrfChecked, MemberDep, peer_address
from nodes.web.errors import ProblemError
from nodes.web.pages import render
from nodes.web.sessions import node_of

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}
RECEIPT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@router.get("/me/platforms", response_class=HTMLResponse)
def platforms(request: Request, member: MemberDep) -> HTMLResponse:
    rows = consents.connected_platforms(node_of(request), member)
    return render(request, "oidc/platforms.html", {"platforms": rows}, headers=NO_STORE)


@router.post("/me/platforms/{client_id}/revoke", dependencies=[CsrfChecked])
def revoke_platform(request: Request, client_id: str, member: MemberDep) -> RedirectResponse:
    """Disconnect the platform: its consent and every token it holds for this member stop working at once."""
    address = peer_address(request)
    consents.disconnect(node_of(request), member, client_id[:64], address)
    return RedirectResponse("/me/platforms", status_code=303, headers=NO_STORE)


@router.get("/me/platforms/receipts/{receipt_id}.json")
def receipt(request: Request, receipt_id: str, member: MemberDep) -> Response:
    """A consent receipt as a JSON file the member can keep."""
    body = consents.receipt_of(node_of(request), member, receipt_id) if RECEIPT_ID.match(receipt_id) else None
    if body is None:
        raise ProblemError(404, "not_found", "No such receipt.")
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False), media_type="application/json",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'},
    )
