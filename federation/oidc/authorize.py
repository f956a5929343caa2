"""The authorization endpoint as a pipeline of small named steps (OpenID Connect Core 1.0 §3.1.2).

1. :func:`validate` — client, redirect URI, response type, scope, PKCE, prompt, max_age, claims (authlib + our
   checks). An error the client may see is a redirect **to the registered URI only**, carrying ``state`` and
   ``iss`` (RFC 9207); an error about the client or its redirect URI is never redirected (RFC 6749 §4.1.2.1):
   the edge shows a 400 page.
2. :func:`next_step` — does the member need to sign in (no session, ``prompt=login``, ``max_age`` exceeded, or
   the request names another member by ``id_token_hint`` or a ``sub`` value) or to consent (nothing remembered,
   new claims asked, ``prompt=consent``)? With ``prompt=none`` these are errors (``login_required``,
   ``consent_required``) and no page is shown.
3. :func:`issue_code` or :func:`deny` — the redirect with a code, or ``access_denied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AccessDeniedError, OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

from federation.oidc.grants import CodeGrant, GrantUser
from federation.oidc.http import HttpRequest, HttpResponse
from federation.oidc.models import Client, Consent
from federation.oidc.scopes import RequestedItem, released_names, requested_items

if TYPE_CHECKING:
    from federation.oidc.provider import Provider

Step = Literal["login", "consent", "issue"]


class AuthorizationFailure(Exception):
    """The request fails. ``response`` is the redirect to send, or ``None``: show an error page (status 400)."""

    def __init__(self, error: str, description: str, response: HttpResponse | None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.response = response


@dataclass
class Authorization:
    """A validated authorization request and what it asks the member to release."""

    grant: CodeGrant
    client: Client
    redirect_uri: str
    items: list[RequestedItem]

    @property
    def prompts(self) -> frozenset[str]:
        return self.grant.prompts

    @property
    def max_age(self) -> int | None:
        return self.grant.max_age

    @property
    def subject(self) -> str | None:
        """The ``sub`` of the member this request is for, when it names one."""
        return self.grant.subject


def _failure(provider: Provider, error: OAuth2Error, state: str | None) -> AuthorizationFailure:
    description = error.get_error_description() or error.error
    if not error.redirect_uri:
        return AuthorizationFailure(error.error, description, None)
    error.state = state
    params = [*error.get_body(), ("iss", provider.config.issuer)]
    location = add_params_to_uri(error.redirect_uri, params)
    return AuthorizationFailure(error.error, description, HttpResponse(302, "", [("Location", location)]))


def validate(provider: Provider, request: HttpRequest, member_id: int | None) -> Authorization:
    """Step 1. Raises :class:`AuthorizationFailure`."""
    core = provider.create_oauth2_request(request)
    try:
        grant: CodeGrant = provider.get_consent_grant(core, end_user=member_id)
    except OAuth2Error as error:
        raise _failure(provider, error, core.payload.state) from None
    items = requested_items(core.scope, grant.claims_request)
    return Authorization(grant, core.client, grant.redirect_uri, items)


def next_step(
    provider: Provider,
    authorization: Authorization,
    member_id: int | None,
    auth_time: datetime | None,
    signed_in_after: datetime | None,
    member_public_id: str | None = None,
) -> Step:
    """Step 2. ``signed_in_after`` is when the interaction that sent the member to sign in began: a sign-in
    after it satisfies ``prompt=login`` and ``max_age`` (so a slow sign-in does not loop).

    A request for a named member (``id_token_hint``, a ``sub`` value) is answered only for that member (§5.5.1:
    never an ID token for another user, even one signed in): anyone else signed in here is asked to sign in, and
    if the sign-in still brings someone else, the answer is ``login_required``.
    """
    prompts, state = authorization.prompts, authorization.grant.request.payload.state
    fresh = auth_time is not None and signed_in_after is not None and auth_time >= signed_in_after
    other_member = (
        authorization.subject is not None and member_public_id is not None
        and provider.subject(authorization.client, member_public_id) != authorization.subject
    )
    if (member_id is None or auth_time is None or other_member
            or not fresh and _must_sign_in(provider, authorization, auth_time)):
        if "none" in prompts or other_member and fresh:
            raise _failure(provider, LoginRequiredError(redirect_uri=authorization.redirect_uri), state)
        return "login"
    consent = provider.store.get_consent(member_id, authorization.client.client_id)
    if "consent" in prompts or not covers(consent, authorization.items):
        if "none" in prompts:
            raise _failure(provider, ConsentRequiredError(redirect_uri=authorization.redirect_uri), state)
        return "consent"
    return "issue"


def _must_sign_in(provider: Provider, authorization: Authorization, auth_time: datetime) -> bool:
    if "login" in authorization.prompts:
        return True
    max_age = authorization.max_age
    return max_age is not None and (provider.now() - auth_time).total_seconds() > max_age


def covers(consent: Consent | None, items: list[RequestedItem]) -> bool:
    """Whether a remembered consent already decided every item this request asks."""
    return consent is not None and all(item.name in consent.decided for item in items)


def issue_code(
    provider: Provider, authorization: Authorization, member_id: int, auth_time: datetime, consent: Consent
) -> HttpResponse:
    """Step 3: store a code for what ``consent`` (the member's live consent) grants, under its connection, and
    redirect with ``code``, ``state`` and ``iss``."""
    granted = consent.granted
    user = GrantUser(member_id, auth_time, released_names(authorization.items, granted), consent.connection)
    grant = authorization.grant
    if "offline_access" not in granted:
        grant.request.scope = " ".join(s for s in grant.request.scope.split() if s != "offline_access")
    try:
        status, body, headers = grant.create_authorization_response(authorization.redirect_uri, user)
    except OAuth2Error as error:
        raise _failure(provider, error, grant.request.payload.state) from None
    response = HttpResponse(status, body, list(headers))
    return _with_issuer(provider, response)


def deny(provider: Provider, authorization: Authorization) -> HttpResponse:
    """Step 3, refused: ``access_denied`` to the registered redirect URI."""
    failure = _failure(
        provider, AccessDeniedError(redirect_uri=authorization.redirect_uri),
        authorization.grant.request.payload.state,
    )
    assert failure.response is not None
    return failure.response


def _with_issuer(provider: Provider, response: HttpResponse) -> HttpResponse:
    location = response.location
    if location:
        response.headers = [(k, v) for k, v in response.headers if k.lower() != "location"]
        response.headers.append(("Location", add_params_to_uri(location, [("iss", provider.config.issuer)])))
    return response
