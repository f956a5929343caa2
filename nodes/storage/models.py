"""SQLModel tables of a node.

Secrets are never stored in the clear: passwords are argon2id hashes, invitation and session tokens are SHA-256
hashes (the raw token only ever lives in the link or the cookie), and private keys are sealed with the node secret.
Every schema change comes with an Alembic revision in ``nodes/storage/migrations/versions``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class NodeKey(SQLModel, table=True):
    """A signing key of the organisation. ``status`` is ``current`` for exactly one key per purpose.

    Retired keys keep their public half published (DID document, JWKS) so that what they signed still verifies.
    """

    __tablename__ = "node_key"

    kid: str = Field(primary_key=True, max_length=100)
    purpose: str = Field(index=True, max_length=20)  # "credentials" (Ed25519) or "jose" (ES256)
    algorithm: str = Field(max_length=20)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sealed_private: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="current", max_length=20)
    created_at: datetime
    retired_at: datetime | None = None


class Member(SQLModel, table=True):
    """A person of the organisation's roster. ``email_key`` is the NFKC-casefolded e-mail, unique."""

    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=40)
    email: str = Field(max_length=320)
    email_key: str = Field(unique=True, max_length=320)
    given_name: str = Field(max_length=200)
    family_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    is_admin: bool = False
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None


class Affiliation(SQLModel, table=True):
    """One affiliation of a member: a degree at a school, or a period at a company.

    ``source_key`` identifies the affiliation within the roster (programme+degree+year, or
    role+department+start) so that re-importing the same file updates instead of duplicating.
    """

    __tablename__ = "affiliation"
    __table_args__ = (UniqueConstraint("member_id", "source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(max_length=20)
    source_key: str = Field(max_length=600)
    programme: str | None = Field(default=None, max_length=200)
    degree: str | None = Field(default=None, max_length=200)
    class_year: int | None = None
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    role: str | None = Field(default=None, max_length=200)
    department: str | None = Field(default=None, max_length=200)
    start_date: date | None = None
    end_date: date | None = None
    created_at: datetime
    updated_at: datetime


class Invitation(SQLModel, table=True):
    """A single-use, expiring claim link. Only the SHA-256 of the token is stored."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A browser session. The cookie holds the raw token; the table holds its SHA-256.

    A session exists before sign-in (it carries the CSRF token and the language); sign-in replaces it with a new
    one so the pre-login identifier never becomes authenticated (session fixation).
    """

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    csrf_token: str = Field(max_length=64)
    lang: str | None = Field(default=None, max_length=5)
    created_at: datetime
    expires_at: datetime = Field(index=True)
    auth_time: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed sign-in counters per account (``acct:<email_key>``) and per client address (``ip:<addr>``), and failed
    OpenID Connect client authentications per client and address (``client:<client_id>@<addr>``)."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=400)
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only record of admin actions and authentication events (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str = Field(max_length=200)
    action: str = Field(index=True, max_length=100)
    target: str | None = Field(default=None, max_length=400)
    ip: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# The OpenID Connect provider's tables live in their own module; importing it here registers them on the metadata
# wherever the node's tables are loaded (Alembic's environment included). Likewise the tables of credential
# issuance, status lists and the VC-API (migration 0200).
from nodes.storage import credential_tables as _credential_tables  # noqa: E402, F401
from nodes.storage import oidc_tables as _oidc_tables  # noqa: E402, F401
