"""Token revocation (RFC 7009), introspection (RFC 7662) and UserInfo (OpenID Connect Core 1.0 §5.3).

Revocation and introspection look for the token among access and refresh tokens whatever ``token_type_hint``
says: the hint only decides which kind is tried first.

UserInfo takes the access token from the ``Authorization: Bearer`` header or, on a POST, from the form body
(RFC 6750 §2.1, §2.2); a token in the query string is refused as ``invalid_token`` (§2.3 is not offered), and
sending two is an error. Only the claims the member consented to are released, and only while the consent lasts.
Its errors are RFC 6750 §3 answers, as OpenID Connect Core §5.3.3 asks: each carries a ``WWW-Authenticate: Bearer``
challenge naming the error (``insufficient_scope`` with the ``scope`` needed), except that a request with no
bearer token at all gets a bare ``Bearer`` challenge and no error information (§3.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from federation.oidc.consent import consented
from federation.oidc.http import CoreRequest, HttpRequest, HttpResponse
from federation.oidc.models import AUTH_METHODS, Client, TokenView, secret_hash
from federation.oidc.scopes import scope_list

if TYPE_CHECKING:
    from federation.oidc.provider import Provider

MAX_TOKEN_PARAMETER = 512


def _find(provider: Provider, token: Any, kinds: tuple[str, ...]) -> TokenView | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_PARAMETER:
        return None
    for kind in kinds:
        record = provider.store.find_token(secret_hash(token), kind)
        if record is not None:
            return TokenView(record, kind, provider.now(), provider.store.get_client(record.client_id))
    return None


def _kinds(hint: str | None) -> tuple[str, ...]:
    """Where to look for a token: both kinds always, the hinted one first (RFC 7009 §2.1, RFC 7662 §2.1: a hint
    only orders the search; any other hint, ``id_token`` or one we never heard of, is ignored)."""
    return ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")


def _check_token_parameter(request: CoreRequest) -> None:
    """authlib's ``check_params`` without its hint check: it answers a hint outside ``access_token`` and
    ``refresh_token`` with ``unsupported_token_type`` (a 401, its class deriving from ``ForbiddenError``) and leaves
    the token alive. RFC 7009 §2.2.1 keeps that error for a server that cannot revoke a type of token; we revoke
    and describe both kinds, and a hint is only a hint (§2.1: the search extends to every type)."""
    if "token" not in request.form:
        raise InvalidRequestError("Missing 'token'.")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token revokes its whole family, access tokens included (§2.1)."""

    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    server: Provider

    def check_params(self, request: CoreRequest, client: Client) -> None:
        _check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _find(self.server, token_string, _kinds(token_type_hint))

    def revoke_token(self, token: TokenView, request: CoreRequest) -> None:
        now = self.server.now()
        if token.kind == "refresh_token":
            self.server.store.revoke_family(token.record.family, now, "revoked_by_client")
        elif token.record.id is not None:
            self.server.store.revoke_access(token.record.id, now)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662, for confidential clients and only about their own tokens (another client's token is inactive)."""

    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]
    server: Provider

    def check_params(self, request: CoreRequest, client: Client) -> None:
        _check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _find(self.server, token_string, _kinds(token_type_hint))

    def check_permission(self, token: TokenView, client: Client, request: CoreRequest) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        record, client = token.record, token.client
        store = self.server.store
        member = store.member_claims(record.member_id)
        live = self.server.live_consent(record.member_id, client.client_id, record.connection) if client else None
        if client is None or member is None or live is None:
            return {"active": False}
        return {
            "active": True,
            "client_id": record.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "scope": token.get_scope(),
            "sub": self.server.subject(client, member.local_id),
            "aud": record.client_id,
            "iss": self.server.config.issuer,
            "iat": int(record.issued_at.timestamp()),
            "exp": int(token.expires_at.timestamp()),
        }


class NoBearerToken(InvalidTokenError):  # type: ignore[misc]
    """The request presents no bearer token at all: no ``Authorization`` header, or one of another scheme (RFC 6750
    §3.1: "attempted using an unsupported authentication method"), and no ``access_token`` form field."""

    description = "No access token."


def bearer_token(request: HttpRequest) -> str:
    """The access token a UserInfo request presents (RFC 6750 §2.1 header or §2.2 form, not both)."""
    header = {k.lower(): v for k, v in request.headers.items()}.get("authorization")
    in_form = request.method == "POST" and any(k == "access_token" for k, _ in request.form)
    if header is not None and in_form:
        raise InvalidRequestError("Send the access token in one place only.")
    if header is not None:
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer":
            raise NoBearerToken()
        if not value.strip():
            raise InvalidTokenError()
        return value.strip()
    if in_form:
        values = [v for k, v in request.form if k == "access_token"]
        if len(values) > 1:  # which one would be the token? (RFC 6749 §3.2, as at the other endpoints)
            raise InvalidRequestError("Send one access token.")
        return values[0]
    if any(k == "access_token" for k, _ in request.query):
        raise InvalidTokenError(description="An access token in the query string is not accepted.")
    raise NoBearerToken()


def _bearer_error(error: OAuth2Error) -> HttpResponse:
    """A UserInfo error as RFC 6750 §3 answers it: the status, the JSON error body, and the challenge."""
    if isinstance(error, NoBearerToken):
        return HttpResponse(401, "", [("WWW-Authenticate", "Bearer")])
    status, body, headers = error()
    attributes = [("error", error.error), ("error_description", error.get_error_description())]
    if isinstance(error, InsufficientScopeError):
        attributes.append(("scope", "openid"))
    # OAuth2Error refuses descriptions holding a double quote or a backslash: the values need no escaping.
    challenge = "Bearer " + ", ".join(f'{name}="{value}"' for name, value in attributes if value)
    kept = [(k, v) for k, v in headers if k.lower() != "www-authenticate"]
    return HttpResponse(status, body, [*kept, ("WWW-Authenticate", challenge)])


def userinfo(provider: Provider, request: HttpRequest) -> HttpResponse:
    """The UserInfo response: ``sub`` plus the consented claims asked for the UserInfo endpoint."""
    try:
        view = _find(provider, bearer_token(request), ("access_token",))  # a refresh token is no bearer token
        if view is None or view.is_expired() or view.is_revoked():
            raise InvalidTokenError()
        if "openid" not in scope_list(view.record.scope):
            raise InsufficientScopeError(description="UserInfo needs a token with the 'openid' scope.")
        client = view.client
        member = provider.store.member_claims(view.record.member_id)
        consent = provider.live_consent(view.record.member_id, view.record.client_id, view.record.connection)
        if client is None or member is None or consent is None:
            raise InvalidTokenError()
    except (InvalidTokenError, InsufficientScopeError, InvalidRequestError) as error:
        return _bearer_error(error)
    body: dict[str, Any] = {"sub": provider.subject(client, member.local_id)}
    for name in consented(view.record.claims.get("userinfo", []), consent.granted):
        body[name] = member.claim(name)
    if "affiliations" in body and provider.credential_source is not None:
        body["affiliation_credentials"] = list(
            provider.credential_source.credentials_for(view.record.member_id, client.client_id)
        )
    return HttpResponse(200, body, [("Content-Type", "application/json")])
