"""What the provider needs from storage, as small protocols the node implements (``nodes/oidc/store.py``).

Developers MUST implement every method of :class:`ProviderStore`; the methods marked *atomic* must be a single
conditional update, so that two workers racing on one code or one refresh token cannot both win. Values that are
secrets arrive here already hashed (:func:`federation.oidc.models.secret_hash`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from federation.oidc.models import AuthorizationCode, Client, Consent, MemberClaims, TokenRecord


class ProviderStore(Protocol):
    """Clients, codes, tokens, consents and members, as the grants and endpoints read and change them."""

    def get_client(self, client_id: str) -> Client | None:
        """The registered client, or ``None`` (also for a disabled client)."""

    def save_code(self, code: AuthorizationCode) -> None:
        """Store a new authorization code (its hash)."""

    def find_code(self, code_hash: str) -> AuthorizationCode | None:
        """The code with this hash, used or not, or ``None``."""

    def consume_code(self, code_id: int, now: datetime) -> bool:
        """*Atomic*: mark the code used if it was not; ``False`` when another request used it first."""

    def redeem_code(self, code_id: int, record: TokenRecord, now: datetime) -> bool:
        """*Atomic*, one transaction: mark the code used if it was not **and** store the issuance made from it.

        ``False`` (and nothing stored) when another request used the code first. Storing both at once means that
        whoever finds the code used also finds the tokens of its first use, to revoke them.
        """

    def find_token(self, token_hash: str, kind: str) -> TokenRecord | None:
        """The issuance whose ``access_token`` or ``refresh_token`` (``kind``) has this hash."""

    def rotate_refresh(self, token_id: int, record: TokenRecord, now: datetime) -> bool:
        """*Atomic*, one transaction: mark the refresh token of issuance ``token_id`` used if it was not (and not
        revoked) **and** store its successor ``record``; ``False`` (nothing stored) when it was used already."""

    def revoke_family(self, family: str, now: datetime, reason: str) -> int:
        """Revoke every issuance of ``family``; returns how many were still live."""

    def revoke_code_tokens(self, code_id: int, now: datetime) -> int:
        """Revoke the families that code ``code_id`` produced (the code was replayed)."""

    def revoke_access(self, token_id: int, now: datetime) -> None:
        """Revoke one access token (RFC 7009 for an access token)."""

    def get_consent(self, member_id: int, client_id: str) -> Consent | None:
        """The member's live consent for the client, or ``None`` (never given, or revoked)."""

    def member_claims(self, member_id: int) -> MemberClaims | None:
        """What may be released about the member, or ``None`` when the member no longer exists."""

    def seen_assertion(self, client_id: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """*Atomic*: remember a client assertion's ``jti`` until ``expires_at``; ``True`` if it was already seen."""

    def client_auth_lock(self, client_id: str, address: str, now: datetime) -> int | None:
        """The seconds (at least one) until too many failed authentications of this client from this address stop
        locking it out there, or ``None`` when they do not (SECURITY O16, W6). Another address is not locked."""

    def client_auth_failed(self, client_id: str, address: str, now: datetime) -> None:
        """Count a failed authentication of this client from this address."""

    def client_auth_succeeded(self, client_id: str, address: str) -> None:
        """Forget the failed authentications of this client from this address (it has just authenticated there).
        Called on every success: it should cost nothing when there is nothing to forget."""


class AffiliationCredentialSource(Protocol):
    """Where the signed affiliation credentials of a member come from (the credentials issue provides it).

    When the provider has none, it neither advertises nor releases ``affiliation_credentials``: the plain
    ``affiliations`` claim is all a platform gets, and discovery says so.
    """

    def credentials_for(self, member_id: int, audience: str) -> Sequence[dict[str, Any]]:
        """The member's current affiliation credentials (JSON-LD VCs) to hand to the platform ``audience``."""
