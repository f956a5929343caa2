"""The OpenID Connect provider core: authlib's ``AuthorizationServer`` over a store, a key source and a clock.

It never touches a web framework or a database: the edge hands it an :class:`~federation.oidc.http.HttpRequest`
and turns its :class:`~federation.oidc.http.HttpResponse` into a real one. Access and refresh tokens are opaque
random strings stored as hashes (see ``docs/adr/0100-opaque-access-tokens.md``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from credentials.keys import SigningKey
from federation.oidc import endpoints
from federation.oidc.client_auth import PrivateKeyJwt
from federation.oidc.consent import consented
from federation.oidc.grants import CodeGrant, RefreshGrant
from federation.oidc.http import NO_STORE, CoreRequest, HttpRequest, HttpResponse, refuse_repeated
from federation.oidc.id_token import ID_TOKEN_ALGORITHMS, id_token_claims, sign_id_token
from federation.oidc.models import Client, Consent, TokenRecord, secret_hash
from federation.oidc.scopes import OFFLINE_ACCESS, SUPPORTED_SCOPES, narrowed_claims, scope_list
from federation.oidc.store import AffiliationCredentialSource, ProviderStore
from federation.oidc.subject import subject_for


class KeySource(Protocol):
    """The node's JOSE keys: the current signing key for an algorithm, and every published public key."""

    def signing_key(self, alg: str) -> SigningKey:
        """The current private key that signs ``alg`` (ES256, RS256 or EdDSA)."""

    def public_jwks(self) -> list[dict[str, Any]]:
        """The published JWKS ``keys`` (current and retired)."""


@dataclass(frozen=True)
class ProviderConfig:
    """Lifetimes in seconds. A code lives at most 60 s (SECURITY O9; the spec allows up to 10 minutes)."""

    issuer: str
    code_ttl: int = 60
    access_ttl: int = 900
    refresh_ttl: int = 30 * 24 * 3600
    id_token_ttl: int = 900
    assertion_max_lifetime: int = 600


class TooManyAttempts(OAuth2Error):  # type: ignore[misc]
    """Too many failed client authentications from this address: the client is locked out there for a while
    (SECURITY O16, W6); ``Retry-After`` says for how long."""

    error = "invalid_client"
    status_code = 429
    description = "Too many failed authentication attempts; try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))]


class Provider(AuthorizationServer):  # type: ignore[misc]
    """One node's OpenID Provider. Build it once per node; it keeps no per-request state."""

    def __init__(
        self,
        config: ProviderConfig,
        store: ProviderStore,
        keys: KeySource,
        subject_salt: bytes,
        clock: Callable[[], datetime],
        credential_source: AffiliationCredentialSource | None = None,
    ) -> None:
        super().__init__(scopes_supported=list(SUPPORTED_SCOPES))
        self.config = config
        self.store = store
        self.keys = keys
        self.subject_salt = subject_salt
        self.now = clock
        self.credential_source = credential_source
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant)
        self.register_grant(RefreshGrant)
        self.register_client_auth_method("private_key_jwt", PrivateKeyJwt(self))
        self.register_endpoint(endpoints.Revocation)
        self.register_endpoint(endpoints.Introspection)

    # --- authlib's integration points ---------------------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 200:
            return None
        return self.store.get_client(client_id)

    def create_oauth2_request(self, request: HttpRequest | CoreRequest) -> CoreRequest:
        return request if isinstance(request, CoreRequest) else CoreRequest(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> HttpResponse:
        return HttpResponse(status, body, list(headers or []))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used: the store records what matters in the audit log."""

    def authenticate_client(self, request: CoreRequest, methods: list[str], endpoint: str = "token") -> Client:
        """authlib's client authentication, plus: one method only (RFC 6749 §2.3) and a lockout.

        Failures are counted per claimed client id *and* the request's address (``peer``), and a lock holds only
        there: the id is public, so a lock of the id alone would let anyone on the Internet lock the real client
        out with a few wrong secrets (SECURITY W6; the denial of service of RFC 9700 §4.16). The lock is checked
        before the credentials, so a locked address cannot go on guessing. A success clears its address's counter
        (as a member's sign-in clears the account's); within a request the node's store knows from the lock's
        read whether a counter exists, and writes only then."""
        used = [
            extract_basic_authorization(request.headers)[0] is not None,
            "client_secret" in request.form,
            "client_assertion" in request.form,
        ]
        if sum(used) > 1:
            raise InvalidRequestError("Use exactly one client authentication method.")
        client_id = _claimed_client_id(request)
        address = request.http.peer
        now = self.now()
        if client_id and (wait := self.store.client_auth_lock(client_id, address, now)) is not None:
            raise TooManyAttempts(wait)
        try:
            client: Client = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            if client_id:
                self.store.client_auth_failed(client_id, address, now)
            raise
        if client_id == client.client_id:
            self.store.client_auth_succeeded(client_id, address)
        return client

    # --- what the grants share -----------------------------------------------------------------------------
    def _generate_token(self, grant_type: str, client: Client, user: Any = None, scope: str | None = None,
                        expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": self.config.access_ttl,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def token_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), *NO_STORE]

    def subject(self, client: Client, local_id: str) -> str:
        return subject_for(client.subject_type, self.subject_salt, client.sector, local_id)

    def live_consent(self, member_id: int, client_id: str, connection: int) -> Consent | None:
        """The member's live consent for the platform, if a code or token issued under ``connection`` still stands
        on it: ``None`` when the platform was disconnected since, even if it was connected again."""
        consent = self.store.get_consent(member_id, client_id)
        return consent if consent is not None and consent.connection == connection else None

    def check_grant_still_allowed(self, member_id: int, client_id: str, connection: int) -> Consent:
        """A code or refresh token is worthless once the member revoked the platform or left the roster. Returns
        the member's live consent (read with the code or token), which says what the new ID token may release."""
        consent = self.live_consent(member_id, client_id, connection)
        if consent is None or self.store.member_claims(member_id) is None:
            raise InvalidGrantError("The grant was revoked.")
        return consent

    def issue_tokens(
        self, client: Client, member_id: int, scope: str, claims: dict[str, list[str]], auth_time: datetime, *,
        consent: Consent, family: str, commit: Callable[[TokenRecord], bool], code_id: int | None = None,
        nonce: str | None = None, access_scope: str | None = None,
    ) -> dict[str, Any]:
        """Make an access token, a refresh token with ``offline_access`` and an ID token for the grant of ``scope``
        and ``claims``; ``commit`` stores the hashes atomically with the use of the code or refresh token they come
        from. Raises ``invalid_grant`` when ``commit`` finds that credential already used.

        With ``access_scope`` (a refresh asking for less than the grant), only the access token and the ID token
        are narrowed, their claims by :func:`~federation.oidc.scopes.narrowed_claims`; the refresh token keeps the
        grant's scope and claims (RFC 6749 §6). The ID token releases only what ``consent`` (the member's live
        consent) still grants, as UserInfo does, and a refresh token comes only while it grants ``offline_access``
        (a code issued before the member unticked it brings none)."""
        refresh = OFFLINE_ACCESS in scope_list(scope) and OFFLINE_ACCESS in consent.granted and client.allow_refresh
        narrowed = access_scope is not None and set(scope_list(access_scope)) != set(scope_list(scope))
        if access_scope is None or not narrowed:
            access_scope, access_claims = scope, claims
        else:
            access_claims = narrowed_claims(claims, scope, access_scope)
        token: dict[str, Any] = self.generate_token(
            "authorization_code", client, scope=access_scope, include_refresh_token=refresh
        )
        now = self.now()
        record = TokenRecord(
            family=family, client_id=client.client_id, member_id=member_id,
            access_hash=secret_hash(token["access_token"]), scope=access_scope, claims=access_claims,
            auth_time=auth_time, issued_at=now, access_expires_at=now + timedelta(seconds=self.config.access_ttl),
            connection=consent.connection,
            refresh_hash=secret_hash(token["refresh_token"]) if refresh else None,
            refresh_expires_at=now + timedelta(seconds=self.config.refresh_ttl) if refresh else None,
            refresh_scope=scope if refresh and narrowed else None,
            refresh_claims=claims if refresh and narrowed else None,
            code_id=code_id,
        )
        if not commit(record):
            raise InvalidGrantError("The grant was already used.")
        if "openid" in scope_list(access_scope):
            names = consented(access_claims.get("id_token", []), consent.granted)
            token["id_token"] = self.make_id_token(client, member_id, names, auth_time, nonce, token["access_token"])
        return token

    def make_id_token(self, client: Client, member_id: int, names: list[str], auth_time: datetime,
                      nonce: str | None, access_token: str | None) -> str:
        """An ID token releasing the claims ``names`` (already filtered by the member's consent)."""
        member = self.store.member_claims(member_id)
        if member is None:
            raise InvalidGrantError("The member no longer exists.")
        alg = client.id_token_alg if client.id_token_alg in ID_TOKEN_ALGORITHMS else "ES256"
        released = {name: member.claim(name) for name in names}
        body = id_token_claims(
            issuer=self.config.issuer, client_id=client.client_id, subject=self.subject(client, member.local_id),
            now=int(self.now().timestamp()), lifetime=self.config.id_token_ttl, auth_time=int(auth_time.timestamp()),
            alg=alg, nonce=nonce, access_token=access_token, released=released,
        )
        return sign_id_token(self.keys.signing_key(alg), body)

    # --- endpoints the edge calls ---------------------------------------------------------------------------
    def token(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self._repeats(request) or self.create_token_response(request)
        return _no_store(response)

    def revoke(self, request: HttpRequest) -> HttpResponse:
        return _no_store(self._repeats(request) or self.create_endpoint_response("revocation", request))

    def introspect(self, request: HttpRequest) -> HttpResponse:
        return _no_store(self._repeats(request) or self.create_endpoint_response("introspection", request))

    def _repeats(self, request: HttpRequest) -> HttpResponse | None:
        """``invalid_request`` for a request that repeats a parameter, before the client is authenticated or
        anything is read (authlib would take the first value: ``code=<valid>&code=<anything>`` would redeem)."""
        try:
            refuse_repeated(request.params)
        except InvalidRequestError as error:
            return self.handle_response(*error())
        return None

    def userinfo(self, request: HttpRequest) -> HttpResponse:
        return _no_store(endpoints.userinfo(self, request))


def _claimed_client_id(request: CoreRequest) -> str | None:
    """The client id a request claims to be, before it is authenticated (to count failures against it)."""
    basic_id, _ = extract_basic_authorization(request.headers)
    value = basic_id or request.form.get("client_id")
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


def _no_store(response: HttpResponse) -> HttpResponse:
    names = {k.lower() for k, _ in response.headers}
    response.headers.extend((k, v) for k, v in NO_STORE if k.lower() not in names)
    return response
