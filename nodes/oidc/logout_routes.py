"""RP-initiated logout (``/logout``, GET and POST) over :mod:`federation.oidc.logout`.

With a valid ``id_token_hint`` for the member signed in here, the session ends at once and the browser goes to
the client's registered ``post_logout_redirect_uri`` (with ``state``). Otherwise nothing is redirected anywhere:
the member sees our page and confirms with a CSRF-protected form (SECURITY W3, no open redirect).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation.oidc.logout import LogoutError, LogoutRequest, validate_logout
from nodes.oidc.adapter import OAuthRequest
from nodes.oidc.node_provider import provider_of
from nodes.web.auth import sign_out
from nodes.web.deps import CsrfChecked, current_member
from nodes.web.pages import render

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/logout")
def logout_get(request: Request, oauth: OAuthRequest) -> Response:
    return _logout(request, dict(reversed(list(oauth.params))))


@router.post("/logout")
def logout_post(request: Request, oauth: OAuthRequest) -> Response:
    return _logout(request, dict(reversed(list(oauth.params))))


def _logout(request: Request, params: dict[str, str]) -> Response:
    provider = provider_of(request)
    try:
        checked = validate_logout(provider, params)
    except LogoutError:
        return _page(request, refused=True, status=400)
    if checked.redirect_uri and _hint_is_for_this_member(request, checked):
        sign_out(request, via="oidc_logout", client=checked.client.client_id if checked.client else None)
        return RedirectResponse(checked.redirect_uri, status_code=303, headers=NO_STORE)
    return _page(request, refused=False, status=200)


def _hint_is_for_this_member(request: Request, checked: LogoutRequest) -> bool:
    """The hint's ``sub`` is the signed-in member's ``sub`` at that client (or nobody is signed in here)."""
    member = current_member(request)
    if member is None:
        return True
    if checked.client is None or checked.subject is None:
        return False
    return provider_of(request).subject(checked.client, member.public_id) == checked.subject


def _page(request: Request, refused: bool, status: int) -> HTMLResponse:
    return render(request, "oidc/logout.html", {"refused": refused}, status_code=status, headers=NO_STORE)


@router.post("/logout/confirm", dependencies=[CsrfChecked])
def logout_confirm(request: Request) -> HTMLResponse:
    sign_out(request, via="oidc_logout", client=None)
    return render(request, "oidc/logout.html", {"refused": False, "done": True}, headers=NO_STORE)
