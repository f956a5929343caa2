"""The provider's records as plain data, with the methods authlib's grants call on them.

A store (``federation.oidc.store.ProviderStore``) turns its rows into these objects; the grants never see a row.
Secrets are not here: a client carries the SHA-256 of its secret, a code or token the SHA-256 of its value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from federation.oidc.scopes import OFFLINE_ACCESS, SUPPORTED_SCOPES, scope_list

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


def secret_hash(value: str) -> str:
    """SHA-256 (hex) of a code, token or client secret.

    Every such value is 256 bits from ``secrets``: a fast hash is enough to make a database dump useless, and it
    keeps the lookup by hash a single indexed equality (constant time with respect to the secret).
    """
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A registered platform (OAuth client). ``auth_method`` is the one method it may use at the token endpoint."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    auth_method: str
    secret_hash: str | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    subject_type: str = "pairwise"
    sector: str = ""
    id_token_alg: str = "ES256"  # noqa: S105 (an algorithm name)
    jwks: tuple[dict[str, Any], ...] = ()
    logo_uri: str | None = None
    policy_uri: str | None = None
    allow_refresh: bool = True

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # §3.1.2.1 lets a client with one registered URI omit redirect_uri; with several it must send one (O2).
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant, or ``None`` (→ ``invalid_scope``) when ``openid`` is missing or a scope is unknown."""
        scopes = scope_list(scope)
        if "openid" not in scopes or any(s not in SUPPORTED_SCOPES for s in scopes):
            return None
        if not self.allow_refresh:
            scopes = [s for s in scopes if s != OFFLINE_ACCESS]
        return " ".join(scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string comparison with a registered URI (RFC 9700 §2.1): no prefix, case or encoding games.

        One exception, RFC 8252 §7.3's: a public client (a native app) registered with a loopback IP literal may
        name any port at the time of the request, as it listens on a port the operating system picks then. Only
        the port may differ; scheme, address, path and query stay exact.
        """
        if redirect_uri in self.redirect_uris:
            return True
        return self.auth_method == "none" and any(_same_but_loopback_port(redirect_uri, r) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(secret_hash(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code" or (grant_type == "refresh_token" and self.allow_refresh)


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """A pending authorization code. ``claims`` are the released claim names by destination."""

    code_hash: str
    client_id: str
    member_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime
    expires_at: datetime
    #: The member's connection to the platform under which the code was issued (:attr:`Consent.connection`).
    connection: int
    nonce: str | None = None
    claims: dict[str, list[str]] = field(default_factory=dict)
    id: int | None = None
    used_at: datetime | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())


@dataclass
class TokenRecord:
    """One issuance at the token endpoint: an access token and, with ``offline_access``, a refresh token.

    Rows of one ``family`` descend from one authorization code through refresh-token rotation; reusing a rotated
    refresh token revokes the whole family (RFC 9700 §4.14.2). ``code_id`` links the first row to its code, so a
    replayed code revokes what its first use produced (RFC 6749 §4.1.2).
    """

    family: str
    client_id: str
    member_id: int
    access_hash: str
    scope: str
    claims: dict[str, list[str]]
    auth_time: datetime
    issued_at: datetime
    access_expires_at: datetime
    #: The connection of the code the family descends from (:attr:`Consent.connection`).
    connection: int
    refresh_hash: str | None = None
    refresh_expires_at: datetime | None = None
    #: The refresh token's scope and claims, where they differ from the access token's (``scope``, ``claims``): a
    #: refresh that asks for a narrower scope narrows its access token only, and the refresh token it issues keeps
    #: the grant's (RFC 6749 §6). ``None``: the same as the access token's.
    refresh_scope: str | None = None
    refresh_claims: dict[str, list[str]] | None = None
    code_id: int | None = None
    id: int | None = None
    refresh_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def grant_scope(self) -> str:
        """The scope of the grant, which the refresh token carries on."""
        return self.scope if self.refresh_scope is None else self.refresh_scope

    @property
    def grant_claims(self) -> dict[str, list[str]]:
        """The claims of the grant, which the refresh token carries on."""
        return self.claims if self.refresh_claims is None else self.refresh_claims


@dataclass
class TokenView(TokenMixin):  # type: ignore[misc]
    """A :class:`TokenRecord` seen as one kind of token (``access_token`` or ``refresh_token``), for authlib."""

    record: TokenRecord
    kind: str
    now: datetime
    client: Client | None = None

    @property
    def expires_at(self) -> datetime:
        if self.kind == "refresh_token" and self.record.refresh_expires_at is not None:
            return self.record.refresh_expires_at
        return self.record.access_expires_at

    def check_client(self, client: Client) -> bool:
        return bool(hmac.compare_digest(self.record.client_id, client.client_id))

    def get_scope(self) -> str:
        return self.record.grant_scope if self.kind == "refresh_token" else self.record.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - self.now).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        rotated = self.kind == "refresh_token" and self.record.refresh_used_at is not None
        return self.record.revoked_at is not None or rotated

    def get_user(self) -> int:
        return self.record.member_id

    def get_client(self) -> Client | None:
        return self.client


@dataclass(frozen=True)
class Consent:
    """A member's remembered choice for one platform: what was shown (``decided``) and what was ticked.

    ``connection`` names this connection of the member to the platform: it is drawn anew when the member connects
    the platform again after disconnecting it, and every code and token carries the one it was issued under. A
    code or token of an earlier connection is worthless (:meth:`Provider.live_consent`), whenever it was written:
    a request that read the consent before a disconnection and wrote after it cannot bring anything back."""

    member_id: int
    client_id: str
    decided: frozenset[str]
    granted: frozenset[str]
    granted_at: datetime
    connection: int


@dataclass(frozen=True)
class MemberClaims:
    """What the node knows of a member that a platform may receive (after consent).

    ``local_id`` is the member's public id: it is the ``sub`` only for clients registered with public subjects.
    ``affiliations`` are the member's affiliations with this organisation as plain claims.
    """

    local_id: str
    given_name: str
    family_name: str
    email: str
    email_verified: bool
    affiliations: tuple[dict[str, Any], ...] = ()

    def claim(self, name: str) -> Any:
        values: dict[str, Any] = {
            "name": f"{self.given_name} {self.family_name}".strip(),
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "email_verified": self.email_verified,
            "affiliations": list(self.affiliations),
        }
        return values.get(name)


_LOOPBACK_IP_URI = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(/[^#]*)?")


def _same_but_loopback_port(asked: str, registered: str) -> bool:
    """``asked`` is ``registered`` with another port, both ``http`` on a loopback IP literal (RFC 8252 §7.3)."""
    a, r = _LOOPBACK_IP_URI.fullmatch(asked), _LOOPBACK_IP_URI.fullmatch(registered)
    if a is None or r is None or (a.group(2) is not None and not 0 < int(a.group(2)) < 65536):
        return False
    return a.group(1) == r.group(1) and (a.group(3) or "") == (r.group(3) or "")
