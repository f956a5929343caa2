"""SQLModel tables of credential issuance, status lists and the VC-API (migration ``0200``).

The truth about a credential's status is :attr:`IssuedCredential.state`; the published bitstrings
(:class:`StatusListBits`) are derived from it, changed in the same transaction, and rebuilt from it at start-up.
A status list *number* is the unit of allocation: credential ``n/i`` holds index ``i`` in both the revocation list
``n`` and the suspension list ``n``, and ``UNIQUE (status_list, status_index)`` guarantees no index is used twice,
whatever happens to the process (SECURITY B4). Tokens and challenges are stored as SHA-256 hashes only (B3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class StatusList(SQLModel, table=True):
    """A status list number and how many of its indexes are allocated (the allocation counter and lock)."""

    __tablename__ = "status_list"

    number: int = Field(primary_key=True)
    entries: int
    allocated: int = 0
    created_at: datetime


class StatusListBits(SQLModel, table=True):
    """The published bitstring of one list for one purpose (``/status/{purpose}/{number}``).

    ``version`` grows by one at every change and never goes backwards (SECURITY X12); ``encoded_list`` is the
    spec's ``encodedList`` (GZIP + multibase base64url); ``updated_at`` becomes the list credential's ``validFrom``.
    """

    __tablename__ = "status_list_bits"
    __table_args__ = (UniqueConstraint("list_number", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    list_number: int = Field(foreign_key="status_list.number", index=True)
    purpose: str = Field(max_length=20)
    encoded_list: str = Field(sa_column=Column(Text, nullable=False))
    version: int = 1
    ttl_seconds: int
    updated_at: datetime


class IssuedCredential(SQLModel, table=True):
    """A signed credential as issued, with its status list index and its state (``active``, ``suspended``,
    ``revoked``; the last is final). ``idempotency_key`` is the SHA-256 of the client's key (SECURITY V14)."""

    __tablename__ = "issued_credential"
    __table_args__ = (UniqueConstraint("status_list", "status_index"),)

    id: str = Field(primary_key=True, max_length=200)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    affiliation_id: int | None = Field(default=None, foreign_key="affiliation.id", index=True)
    credential_type: str = Field(max_length=100, index=True)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status_list: int = Field(foreign_key="status_list.number")
    status_index: int
    state: str = Field(default="active", max_length=12, index=True)
    state_reason: str | None = Field(default=None, max_length=500)
    state_changed_at: datetime | None = None
    created_at: datetime = Field(index=True)
    created_by: str = Field(max_length=200)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=64)
    request_hash: str | None = Field(default=None, max_length=64)


class PresentationChallenge(SQLModel, table=True):
    """A challenge that a verified presentation has used; a second use is a replay (SECURITY V15)."""

    __tablename__ = "presentation_challenge"

    challenge_hash: str = Field(primary_key=True, max_length=64)
    used_at: datetime = Field(index=True)


class ApiToken(SQLModel, table=True):
    """A bearer token for the VC-API, acting with the rights of the administrator it belongs to."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IssuanceJob(SQLModel, table=True):
    """A bulk issuance started from the admin pages; its counters show progress to any worker."""

    __tablename__ = "issuance_job"

    id: str = Field(primary_key=True, max_length=40)
    actor: str = Field(max_length=200)
    open_badge: bool = False
    state: str = Field(default="queued", max_length=12)
    total: int = 0
    done: int = 0
    message: str | None = Field(default=None, max_length=500)
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
