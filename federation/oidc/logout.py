"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-§4) without open redirects (SECURITY W3).

We redirect after logout only when an ``id_token_hint`` we issued (signature checked with our published keys,
``iss`` exact; an expired hint is accepted, §2) names the client, and ``post_logout_redirect_uri`` is exactly one
that client registered. ``state`` is then echoed. In every other case there is no redirect: the member sees our
own page. ``client_id``, when sent with a hint, must be the hint's audience.

The hint's ``sub`` and ``auth_time`` are kept so the edge can tell whether the hint belongs to the member's current
session here (§2: the OP MUST ask the member when the ID token does not belong to the current OP session with the
RP); a hint from an earlier session only gets the confirmation page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authlib.common.urls import add_params_to_uri

from credentials.jose import JoseError
from federation.oidc.id_token import read_id_token_hint
from federation.oidc.models import Client

if TYPE_CHECKING:
    from federation.oidc.provider import Provider


class LogoutError(ValueError):
    """A logout request we refuse to redirect for (bad hint, unregistered URI, client mismatch)."""


@dataclass(frozen=True)
class LogoutRequest:
    """A checked logout request: who asked, the member's ``sub`` at that client and when they signed in for the
    hint's ID token (``auth_time``, seconds), and where to go after."""

    client: Client | None
    subject: str | None
    redirect_uri: str | None
    auth_time: int | None = None


def validate_logout(provider: Provider, params: dict[str, str]) -> LogoutRequest:
    """Check a logout request's parameters; raises :class:`LogoutError` (never redirect then)."""
    hint, client_id = params.get("id_token_hint"), params.get("client_id")
    uri, state = params.get("post_logout_redirect_uri"), params.get("state")
    client, subject, auth_time = None, None, None
    if hint:
        try:
            claims = read_id_token_hint(provider, hint)
        except JoseError as exc:
            raise LogoutError(f"id_token_hint refused: {exc}") from exc
        audience = claims.get("aud")
        if not isinstance(audience, str):
            raise LogoutError("id_token_hint was not issued by this provider for one client")
        if client_id and client_id != audience:
            raise LogoutError("client_id is not the audience of id_token_hint")
        client = provider.query_client(audience)
        sub = claims.get("sub")
        subject = sub if isinstance(sub, str) else None
        signed_in = claims.get("auth_time")
        auth_time = signed_in if isinstance(signed_in, int) and not isinstance(signed_in, bool) else None
    elif client_id:
        client = provider.query_client(client_id)
    if uri is None:
        return LogoutRequest(client, subject, None)
    if client is None or uri not in client.post_logout_redirect_uris:
        raise LogoutError("post_logout_redirect_uri is not registered for this client")
    if not hint:
        # §3: without a hint we have no proof the request comes from the client: no redirect.
        return LogoutRequest(client, None, None)
    return LogoutRequest(client, subject, add_params_to_uri(uri, [("state", state)]) if state else uri, auth_time)
