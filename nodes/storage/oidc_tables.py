"""SQLModel tables of the OpenID Connect provider (migration ``0100``).

Nothing secret is stored in the clear: client secrets, codes, access and refresh tokens and interaction ids are
SHA-256 hashes of 256-bit random values (SECURITY B3). Codes and tokens keep their rows after use or revocation
(``used_at``, ``revoked_at``): a replayed value must still be recognised to revoke what it produced. They go a
day after they can no longer be used (:mod:`nodes.housekeeping`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def _connection_column() -> Any:
    """The member's connection to the platform (:attr:`federation.oidc.models.Consent.connection`; migration 0500):
    rows written before the column existed all hold 0, so they keep matching each other."""
    return Column(BigInteger, nullable=False, server_default=text("0"))


class OidcClient(SQLModel, table=True):
    """A platform registered by an admin. ``secret_hash`` is empty for public and ``private_key_jwt`` clients."""

    __tablename__ = "oidc_client"

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    secret_hash: str | None = Field(default=None, max_length=64)
    auth_method: str = Field(max_length=30)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    post_logout_redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subject_type: str = Field(default="pairwise", max_length=10)
    sector: str = Field(max_length=255)
    sector_identifier_uri: str | None = Field(default=None, max_length=2000)
    id_token_alg: str = Field(default="ES256", max_length=10)
    jwks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    logo_uri: str | None = Field(default=None, max_length=2000)
    policy_uri: str | None = Field(default=None, max_length=2000)
    allow_refresh: bool = True
    created_at: datetime
    created_by: str = Field(max_length=200)
    disabled_at: datetime | None = None


class OidcCode(SQLModel, table=True):
    """An authorization code: single use, at most 60 s, bound to its client, redirect URI and PKCE challenge."""

    __tablename__ = "oidc_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True, max_length=64)
    client_id: str = Field(foreign_key="oidc_client.client_id", index=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    redirect_uri: str = Field(max_length=2000)
    scope: str = Field(max_length=500)
    nonce: str | None = Field(default=None, max_length=512)
    claims: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    code_challenge: str = Field(max_length=128)
    code_challenge_method: str = Field(max_length=10)
    auth_time: datetime
    created_at: datetime
    expires_at: datetime = Field(index=True)
    connection: int = Field(default=0, sa_column=_connection_column())
    used_at: datetime | None = None


class OidcToken(SQLModel, table=True):
    """One issuance: an access token and maybe a refresh token. ``family`` groups the rotations of one grant."""

    __tablename__ = "oidc_token"
    #: When the row stops being usable (its refresh token's expiry, else its access token's): what housekeeping
    #: looks rows up by (migration 0300).
    __table_args__ = (Index("ix_oidc_token_usable_until", text("coalesce(refresh_expires_at, access_expires_at)")),)

    id: int | None = Field(default=None, primary_key=True)
    family: str = Field(index=True, max_length=64)
    code_id: int | None = Field(default=None, foreign_key="oidc_code.id", index=True)
    client_id: str = Field(foreign_key="oidc_client.client_id", index=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    access_hash: str = Field(unique=True, max_length=64)
    refresh_hash: str | None = Field(default=None, unique=True, max_length=64)
    scope: str = Field(max_length=500)
    claims: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    auth_time: datetime
    issued_at: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None
    #: The refresh token's scope and claims where a narrowed refresh gave the access token less (``NULL``: the
    #: same as ``scope`` and ``claims``; migration 0400).
    refresh_scope: str | None = Field(default=None, max_length=500)
    refresh_claims: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    refresh_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=40)
    connection: int = Field(default=0, sa_column=_connection_column())


class OidcConsent(SQLModel, table=True):
    """A member's remembered choice for one platform; ``revoked_at`` is set when they disconnect it."""

    __tablename__ = "oidc_consent"
    __table_args__ = (UniqueConstraint("member_id", "client_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    client_id: str = Field(foreign_key="oidc_client.client_id", max_length=64)
    decided: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    granted: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    granted_at: datetime
    revoked_at: datetime | None = None
    #: Drawn anew when a revoked consent is given again: codes and tokens of an earlier connection stay worthless.
    connection: int = Field(default=0, sa_column=_connection_column())


class OidcGrant(SQLModel, table=True):
    """The log behind "Connected platforms": each consent given (with its receipt), each code issued, each
    disconnection."""

    __tablename__ = "oidc_grant"

    id: int | None = Field(default=None, primary_key=True)
    receipt_id: str = Field(unique=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    client_id: str = Field(foreign_key="oidc_client.client_id", max_length=64)
    kind: str = Field(max_length=20)  # "consent" (a receipt), "signin" (a code issued) or "disconnected"
    claims: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(index=True)
    receipt: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OidcInteraction(SQLModel, table=True):
    """An authorization request parked while the member signs in or decides (its parameters, not secrets).

    The id travels in the browser's URL; the table keeps its hash, so a dump does not let anyone resume one.
    """

    __tablename__ = "oidc_interaction"

    id_hash: str = Field(primary_key=True, max_length=64)
    params: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime
    expires_at: datetime = Field(index=True)


class OidcAssertionJti(SQLModel, table=True):
    """``jti`` values of ``private_key_jwt`` client assertions already used (replay protection)."""

    __tablename__ = "oidc_assertion_jti"

    key: str = Field(primary_key=True, max_length=64)  # SHA-256 of client id and jti
    expires_at: datetime = Field(index=True)
