"""The authorization endpoint (GET and POST ``/authorize``), its return from sign-in, and the consent form.

The pipeline itself is :mod:`federation.oidc.authorize`; here are the pages and the parked interaction. An error
about the client or its redirect URI is a 400 page and never a redirect (SECURITY O1-O3). The consent form
carries the CSRF token of the session and the interaction id; the interaction is bound to the member who saw the
form, so a forged form (another session, another member, a replayed id) is refused (O21).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation.oidc import authorize
from federation.oidc.authorize import Authorization, AuthorizationFailure
from federation.oidc.consent import default_choices
from federation.oidc.http import HttpRequest
from federation.oidc.models import Consent
from federation.oidc.scopes import CREDENTIAL_CLAIMS
from nodes.clock import aware
from nodes.oidc import consents, interactions
from nodes.oidc.adapter import OAuthRequest, to_response
from nodes.oidc.interactions import Interaction
from nodes.oidc.node_provider import one_session, provider_of
from nodes.storage.models import Member
from nodes.web.deps import CsrfChecked, current_member, peer_address
from nodes.web.pages import render
from nodes.web.sessions import current_session, node_of

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}



def error_page(request: Request, error: str, description: str, status: int = 400) -> HTMLResponse:
    """The page shown instead of redirecting to a client we cannot trust with the answer."""
    context = {"error": error, "description": description}
    return render(request, "oidc/error.html", context, status_code=status, headers=NO_STORE)


@router.get("/authorize")
def authorize_get(request: Request, oauth: OAuthRequest) -> Response:
    return run(request, oauth, None)


@router.post("/authorize")
def authorize_post(request: Request, oauth: OAuthRequest) -> Response:
    """OpenID Connect Core §3.1.2.1: the authorization endpoint MUST support POST (form-encoded parameters)."""
    return run(request, oauth, None)


@router.get("/authorize/resume")
def authorize_resume(request: Request, interaction: str = "") -> Response:
    """Where sign-in sends the member back: the parked request continues."""
    node = node_of(request)
    parked = interactions.load(node, interaction)
    if parked is None:
        return error_page(request, "interaction_expired", "This sign-in request has expired.")
    return _without_form_redirect(request, run(request, _parked_request(request, parked), parked))


def _without_form_redirect(request: Request, response: Response) -> Response:
    """Turn a redirect to the platform into a page that continues there.

    The member reaches ``/authorize/resume`` by submitting the sign-in form, and browsers apply that page's CSP
    ``form-action 'self'`` to every redirect that follows a form submission: a 302 from here to the platform
    would be blocked. A page that continues by itself (``<meta http-equiv="refresh">``, plus a link) is a new
    navigation, outside the form's redirect chain, so the sign-in page keeps its strict policy.
    """
    location = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not urlsplit(location).scheme:
        return response
    return render(request, "oidc/continue.html", {"location": location}, headers=NO_STORE)


def _parked_request(request: Request, parked: Interaction) -> HttpRequest:
    return HttpRequest("GET", str(request.url), {k.lower(): v for k, v in request.headers.items()}, parked.params)


def run(request: Request, oauth: HttpRequest, parked: Interaction | None) -> Response:
    """Validate, then sign in, ask consent, or issue the code."""
    provider, node = provider_of(request), node_of(request)
    member = current_member(request)
    session = current_session(request)
    auth_time = aware(session.auth_time) if session is not None and session.auth_time is not None else None
    member_id = member.id if member is not None else None
    try:
        # A member signed in: the client is read with their consent for it, which the next step, the consent page
        # (its ticks) and the code use.
        with one_session(provider, consent_member=member_id):
            authorization = authorize.validate(provider, oauth, member_id)
            step = authorize.next_step(provider, authorization, member_id, auth_time,
                                       parked.created_at if parked else None,
                                       member.public_id if member is not None else None)
            consent = None
            if step != "login" and member_id is not None:  # as read with the client: no other read
                consent = provider.store.get_consent(member_id, authorization.client.client_id)
    except AuthorizationFailure as failure:
        return _failed(request, failure)
    if step == "login":
        parked = parked or interactions.create(node, list(oauth.params))
        target = quote(f"/authorize/resume?interaction={parked.id}", safe="")
        return RedirectResponse(f"/signin?next={target}", status_code=303, headers=NO_STORE)
    assert member is not None and member.id is not None and auth_time is not None
    if step == "consent":
        if parked is None:
            parked = interactions.create(node, list(oauth.params), member.id)
        else:
            parked = interactions.attach_member(node, parked, member.id)
        return _consent_page(request, authorization, parked, consent)
    assert consent is not None
    if parked is not None:
        interactions.finish(node, parked)
    return _issue(request, authorization, member, auth_time, consent)


def _failed(request: Request, failure: AuthorizationFailure) -> Response:
    if failure.response is not None:
        return to_response(failure.response)
    return error_page(request, failure.error, failure.description)


def _issue(request: Request, authorization: Authorization, member: Member, auth_time: datetime,
           consent: Consent) -> Response:
    provider = provider_of(request)
    assert member.id is not None
    try:  # the code is stored with the line of "Connected platforms" that logs this sign-in (nodes/oidc/store.py)
        answer = authorize.issue_code(provider, authorization, member.id, auth_time, consent)
    except AuthorizationFailure as failure:
        return _failed(request, failure)
    return to_response(answer)


def _consent_page(request: Request, authorization: Authorization, parked: Interaction,
                  remembered: Consent | None) -> HTMLResponse:
    """The page ticks what the member's live consent already grants among the items asked (the answer replaces
    that choice for those items: ticking nothing again would silently withdraw it), and the essential items."""
    client = authorization.client
    items = authorization.items
    context = {
        "client": client,
        "items": items,
        "ticked": default_choices(items, remembered.granted if remembered is not None else ()),
        "interaction": parked.id,
        "credential_items": [item.name for item in items if item.name in CREDENTIAL_CLAIMS],
    }
    policy = consent_page_policy(authorization.redirect_uri, client.logo_uri)
    return render(request, "oidc/consent.html", context, headers={**NO_STORE, "Content-Security-Policy": policy})


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def consent_page_policy(redirect_uri: str, logo_uri: str | None) -> str:
    """The node's CSP, widened for this page only: the form may lead to the platform's redirect URI (browsers
    check ``form-action`` on the redirect that answers the form), and the platform's logo may load."""
    from nodes.app import SECURITY_HEADERS

    policy = SECURITY_HEADERS["Content-Security-Policy"]
    policy = policy.replace("form-action 'self'", f"form-action 'self' {_origin(redirect_uri)}")
    if logo_uri:
        policy = policy.replace("img-src 'self'", f"img-src 'self' {_origin(logo_uri)}")
    return policy


@router.post("/authorize/consent", dependencies=[CsrfChecked])
def consent_submit(
    request: Request,
    interaction: Annotated[str, Form()] = "",
    decision: Annotated[str, Form()] = "",
    claims: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Allow (with the ticked claims) or deny. Nothing is stored unless the whole form checks out."""
    node, provider = node_of(request), provider_of(request)
    member = current_member(request)
    parked = interactions.load(node, interaction)
    if parked is None or member is None or parked.member_id != member.id or decision not in ("allow", "deny"):
        return error_page(request, "invalid_request", "This consent form is not valid any more.")
    session = current_session(request)
    assert session is not None and session.auth_time is not None and member.id is not None
    try:
        with one_session(provider, consent_member=member.id):  # the client with the member's live consent
            authorization = authorize.validate(provider, _parked_request(request, parked), member.id)
            earlier = provider.store.get_consent(member.id, authorization.client.client_id)
    except AuthorizationFailure as failure:
        return _failed(request, failure)
    if not interactions.finish(node, parked):
        return error_page(request, "invalid_request", "This consent form was already answered.")
    if decision == "deny":
        consents.record_denial(node, member, authorization.client, peer_address(request))
        return to_response(authorize.deny(provider, authorization))
    consent = consents.give_consent(node, provider, member, authorization.client, authorization.items,
                                    claims or [], peer_address(request), earlier)
    return _issue(request, authorization, member, aware(session.auth_time), consent)
