"""authlib's authorization-code and refresh-token grants, wired to :class:`~federation.oidc.store.ProviderStore`.

What changes from authlib's defaults, and why:

- No parameter may be repeated (RFC 6749 §3.1), whichever it is; authlib checks five.
- PKCE ``S256`` for every client (:mod:`federation.oidc.pkce`); ``request`` / ``request_uri`` are answered
  ``request_not_supported`` / ``request_uri_not_supported`` instead of being silently ignored (SECURITY O20);
  ``response_mode`` other than ``query``, a bad ``prompt``, ``max_age`` or ``claims`` are ``invalid_request``.
- A code is looked up by its hash; a used code revokes what its first use produced (RFC 6749 §4.1.2, conformance
  ``oidcc-codereuse``); a code shown by another client is invalidated (O10). It is consumed with one conditional
  update just before tokens are made, so two workers racing on it cannot both win.
- A refresh token is rotated on every use; presenting a rotated one revokes its whole family (RFC 9700 §4.14.2).
  It is refused, and its family revoked, once the member's live consent no longer grants ``offline_access``.
  A refresh asking for a narrower ``scope`` narrows the access token and the ID token only (their claims by
  :func:`~federation.oidc.scopes.narrowed_claims`); the new refresh token keeps the grant's scope and claims, so a
  later refresh may ask for the whole grant again (RFC 6749 §6).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error, grants
from authlib.oauth2.rfc6749.grants.authorization_code import validate_code_authorization_request
from authlib.oauth2.rfc9101.errors import RequestNotSupportedError, RequestUriNotSupportedError

from credentials.jose import JoseError
from federation.oidc import pkce
from federation.oidc.claims_request import ClaimsRequest, ClaimsRequestError, parse_claims_request
from federation.oidc.http import CoreRequest, refuse_repeated
from federation.oidc.id_token import read_id_token_hint
from federation.oidc.models import AUTH_METHODS, AuthorizationCode, Client, TokenRecord, TokenView, secret_hash
from federation.oidc.scopes import OFFLINE_ACCESS, scope_list

if TYPE_CHECKING:
    from federation.oidc.provider import Provider

PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_NONCE = 512
MAX_SECRET_PARAMETER = 512


@dataclass(frozen=True)
class GrantUser:
    """The member who authorized, as the authorization endpoint hands them to the grant."""

    member_id: int
    auth_time: datetime
    released: dict[str, list[str]]
    connection: int


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code grant with the OpenID Connect request checks of this provider."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    server: Provider

    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    claims_request: ClaimsRequest = ClaimsRequest()
    code_challenge: str = ""
    subject: str | None = None

    @staticmethod
    def validate_no_multiple_request_parameter(request: CoreRequest) -> None:
        """Every parameter may be sent once (RFC 6749 §3.1), not only the five authlib checks: a second ``prompt``,
        ``nonce`` or ``claims`` would otherwise be dropped for the first, and a repeat is refused alike at the
        token endpoint. authlib runs this before it knows the client, so the answer is the error page."""
        refuse_repeated(request.http.params)

    def validate_authorization_request(self) -> str:
        redirect_uri: str = validate_code_authorization_request(self)
        try:
            self._check_openid_parameters()
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def _check_openid_parameters(self) -> None:
        data = self.request.payload.data
        if "request" in data:
            raise RequestNotSupportedError()
        if "request_uri" in data:
            raise RequestUriNotSupportedError()
        self.code_challenge, _ = pkce.check_challenge(data)
        if data.get("response_mode", "query") != "query":
            raise InvalidRequestError("Only 'response_mode=query' is supported.")
        prompts = frozenset((data.get("prompt") or "").split())
        if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise InvalidRequestError("Invalid 'prompt' parameter.")
        self.prompts = prompts
        self.max_age = _max_age(data.get("max_age"))
        if len(data.get("nonce") or "") > MAX_NONCE:
            raise InvalidRequestError("The 'nonce' is too long.")
        try:
            self.claims_request = parse_claims_request(data.get("claims"))
        except ClaimsRequestError as exc:
            raise InvalidRequestError(f"Invalid 'claims' parameter: {exc}.") from exc
        self.subject = _asked_subject(self.server, self.request.client, data.get("id_token_hint"),
                                      self.claims_request.subject)

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: GrantUser = request.user
        now = self.server.now()
        self.server.store.save_code(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=request.client.client_id,
                member_id=user.member_id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope,
                code_challenge=self.code_challenge,
                code_challenge_method="S256",
                auth_time=user.auth_time,
                expires_at=now + timedelta(seconds=self.server.config.code_ttl),
                connection=user.connection,
                nonce=request.payload.data.get("nonce") or None,
                claims=user.released,
            )
        )

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        if not isinstance(code, str) or len(code) > MAX_SECRET_PARAMETER:
            return None
        store, now = self.server.store, self.server.now()
        found = store.find_code(secret_hash(code))
        if found is None or found.id is None:
            return None
        if found.used_at is not None:
            store.revoke_code_tokens(found.id, now)
            return None
        if found.client_id != client.client_id:
            store.consume_code(found.id, now)
            return None
        if found.expires_at <= now:
            return None
        return found

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        pkce.check_verifier(self.request.form.get("code_verifier"), code.code_challenge)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: AuthorizationCode = self.request.authorization_code
        client: Client = self.request.client
        store, now = self.server.store, self.server.now()
        code_id = code.id
        assert code_id is not None
        consent = self.server.check_grant_still_allowed(code.member_id, client.client_id, code.connection)
        try:
            token = self.server.issue_tokens(
                client, code.member_id, code.scope, code.claims, code.auth_time, consent=consent,
                family=secrets.token_hex(16),
                commit=lambda record: store.redeem_code(code_id, record, now), code_id=code_id, nonce=code.nonce,
            )
        except InvalidGrantError:
            store.revoke_code_tokens(code_id, now)  # lost a race with another use of the code: a replay
            raise
        return 200, token, self.server.token_headers()


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh-token grant with rotation and reuse detection."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: Provider

    def authenticate_refresh_token(self, refresh_token: str) -> TokenView | None:
        if not isinstance(refresh_token, str) or len(refresh_token) > MAX_SECRET_PARAMETER:
            return None
        store, now = self.server.store, self.server.now()
        record = store.find_token(secret_hash(refresh_token), "refresh_token")
        if record is None or record.revoked_at is not None:
            return None
        if record.refresh_used_at is not None:
            store.revoke_family(record.family, now, "refresh_token_reused")
            return None
        view = TokenView(record, "refresh_token", now)
        return None if view.is_expired() else view

    def authenticate_user(self, refresh_token: TokenView) -> int:
        return refresh_token.record.member_id

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        old: TokenRecord = self.request.refresh_token.record
        client: Client = self.request.client
        store, now = self.server.store, self.server.now()
        old_id = old.id
        assert old_id is not None
        consent = self.server.check_grant_still_allowed(old.member_id, client.client_id, old.connection)
        if OFFLINE_ACCESS not in consent.granted:
            # The member answered a consent page since, leaving "access while you are away" unticked: the refresh
            # tokens they had allowed stop, as they would on disconnecting the platform.
            store.revoke_family(old.family, now, "offline_access_withdrawn")
            raise InvalidGrantError("The member no longer allows access while they are away.")
        asked = " ".join(scope_list(self.request.payload.scope)) or None  # authlib checked it is within the grant
        try:
            token = self.server.issue_tokens(
                client, old.member_id, old.grant_scope, old.grant_claims, old.auth_time, consent=consent,
                family=old.family, commit=lambda record: store.rotate_refresh(old_id, record, now),
                access_scope=asked,
            )
        except InvalidGrantError:
            store.revoke_family(old.family, now, "refresh_token_reused")  # lost a race: a reuse
            raise
        return 200, token, self.server.token_headers()


def _asked_subject(provider: Provider, client: Client, hint: str | None, asked: str | None) -> str | None:
    """The member the request is for, when it names one: the ``sub`` of ``id_token_hint`` (§3.1.2.1), or a ``sub``
    value in the ``claims`` parameter (§5.5.1). The hint must be an ID token we issued to this client (signature,
    ``iss``, ``aud``; expired is fine: it only names the member), and both must agree."""
    if not hint:
        return asked
    try:
        claims = read_id_token_hint(provider, hint)
    except JoseError as exc:
        raise InvalidRequestError("Invalid 'id_token_hint'.") from exc
    sub = claims.get("sub")
    if claims.get("aud") != client.client_id or not isinstance(sub, str):
        raise InvalidRequestError("The 'id_token_hint' was not issued to this client.")
    if asked is not None and asked != sub:
        raise InvalidRequestError("The 'id_token_hint' and the 'sub' asked for name different members.")
    return sub


def _max_age(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    return int(raw)
