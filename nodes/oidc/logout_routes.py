"""RP-initiated logout (``/logout``, GET and POST) over :mod:`federation.oidc.logout`.

With a valid ``id_token_hint`` issued in the session of the member signed in here, the session ends at once and
the browser goes to the client's registered ``post_logout_redirect_uri`` (with ``state``). Otherwise nothing is
redirected anywhere: the member sees our page and confirms with a CSRF-protected form (SECURITY W3, no open redirect).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidRequestError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation.oidc.http import refuse_repeated
from federation.oidc.logout import LogoutError, LogoutRequest, validate_logout
from nodes.clock import aware
from nodes.oidc.adapter import OAuthRequest
from nodes.oidc.node_provider import provider_of
from nodes.web.auth import sign_out
from nodes.web.deps import CsrfChecked, current_member
from nodes.web.pages import render
from nodes.web.sessions import current_session

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/logout")
def logout_get(request: Request, oauth: OAuthRequest) -> Response:
    return _logout(request, list(oauth.params))


@router.post("/logout")
def logout_post(request: Request, oauth: OAuthRequest) -> Response:
    return _logout(request, list(oauth.params))


def _logout(request: Request, params: list[tuple[str, str]]) -> Response:
    provider = provider_of(request)
    try:
        refuse_repeated(params)  # two hints or two URIs: which would be meant?
        checked = validate_logout(provider, dict(params))
    except (LogoutError, InvalidRequestError):
        return _page(request, refused=True, status=400)
    if checked.redirect_uri and _hint_is_for_this_session(request, checked):
        sign_out(request, via="oidc_logout", client=checked.client.client_id if checked.client else None)
        return RedirectResponse(checked.redirect_uri, status_code=303, headers=NO_STORE)
    return _page(request, refused=False, status=200)


def _hint_is_for_this_session(request: Request, checked: LogoutRequest) -> bool:
    """The hint was issued in the current session here: its ``sub`` is the signed-in member's at that client and
    its ``auth_time`` is the session's sign-in (or nobody is signed in here, so there is nothing to end).

    An ID token from an earlier session (leaked, or kept by the platform) must not end today's session without
    the member's confirmation (RP-Initiated Logout §2). Every ID token of one session carries the session's sign-in
    time, those refreshed later included; a new sign-in (``prompt=login``, ``max_age``) starts a new session.
    """
    member = current_member(request)
    if member is None:
        return True
    session = current_session(request)
    if checked.client is None or checked.subject is None or session is None or session.auth_time is None:
        return False
    same_sign_in = checked.auth_time == int(aware(session.auth_time).timestamp())
    return same_sign_in and provider_of(request).subject(checked.client, member.public_id) == checked.subject


def _page(request: Request, refused: bool, status: int) -> HTMLResponse:
    return render(request, "oidc/logout.html", {"refused": refused}, status_code=status, headers=NO_STORE)


@router.post("/logout/confirm", dependencies=[CsrfChecked])
def logout_confirm(request: Request) -> HTMLResponse:
    sign_out(request, via="oidc_logout", client=None)
    return render(request, "oidc/logout.html", {"refused": False, "done": True}, headers=NO_STORE)
