"""The node's verifier: the pure :class:`~credentials.verify.CredentialVerifier` wired to this node.

- Keys: ``did:key`` locally; the node's own ``did:web`` from its database; any other ``did:web`` through the node's
  :class:`~nodes.fetch.SafeFetcher` (https only, public addresses only, ``http`` to loopback only in ``dev_mode``;
  size, time and a TTL cache), its JSON-LD processed with the bundled contexts only (SECURITY D5).
- Status lists: the node's own from its database (the same signed document it serves), others through the fetcher.
- Trust: until federation trust exists, the node trusts itself and the DIDs of its ``trusted_issuers`` setting;
  every decision says so, so a reader knows what "trusted" rests on.
- Presentation challenges: remembered in the database (hashed), so any worker refuses a replay (V15).
- Repeated work: a DID document that expanded safely and a status list credential that verified are remembered,
  byte for byte, for a minute (:mod:`credentials.verify_memo`); a verifier serving many requests for a cached
  issuer then canonicalizes and checks a signature only for the credential itself (bench/verify_http.py).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from credentials import jsonld_canon
from credentials.key_resolution import key_resolver
from credentials.status.errors import StatusRetrievalError
from credentials.verification_result import CredentialResult, IssuerTrust, PresentationResult, TrustDecision
from credentials.verify import CredentialVerifier
from credentials.verify_memo import SuccessMemo, digest
from credentials.verify_presentation import challenge_retention, verify_presentation
from nodes import keyring
from nodes.context import NodeContext
from nodes.status_lists import StatusListRollback
from nodes.status_publish import own_list_number, published_list
from nodes.storage.credential_tables import PresentationChallenge
from nodes.storage.db import transaction

POLICY = "trust policy: this node and its trusted_issuers setting; federation trust is not available yet"


def node_trust(node: NodeContext) -> IssuerTrust:
    """The node's issuer trust policy (see the module docstring)."""
    own, listed = node.did, frozenset(node.settings.trusted_issuers)

    def trust(issuer: str) -> TrustDecision:
        if issuer == own:
            return TrustDecision(True, f"issued by this node itself ({POLICY})")
        if issuer in listed:
            return TrustDecision(True, f"the issuer is in this node's trusted_issuers ({POLICY})")
        return TrustDecision(False, f"the issuer is neither this node nor in its trusted_issuers ({POLICY})")

    return trust


def node_verifier(node: NodeContext) -> CredentialVerifier:
    """A verifier for this node; cheap to build (the loader and the fetcher, with their caches, are the node's)."""
    resolve = key_resolver(
        lambda url: node.fetcher(url), http_for_localhost=node.settings.dev_mode,
        check_jsonld=lambda document: _check_jsonld(node, document),
        local=lambda did: keyring.did_doc(node.engine, node.did) if did == node.did else None,
    )
    return CredentialVerifier(loader=node.loader, resolve_key=resolve, clock=node.clock,
                              retrieve_status_list=lambda url: _retrieve(node, url), issuer_trust=node_trust(node),
                              verified_lists=_memos(node).lists)


class _Memos:
    """What a node's verifiers remember between requests (credentials/verify_memo.py says why it is safe)."""

    def __init__(self, node: NodeContext) -> None:
        self.lists = SuccessMemo(node.clock)
        self.did_documents = SuccessMemo(node.clock)


_MEMOS: weakref.WeakKeyDictionary[object, _Memos] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def _memos(node: NodeContext) -> _Memos:
    """One set of memos per node, kept with its JSON-LD loader (built once per node)."""
    with _MEMOS_LOCK:
        memos = _MEMOS.get(node.loader)
        if memos is None:
            memos = _MEMOS[node.loader] = _Memos(node)
        return memos


def _check_jsonld(node: NodeContext, document: Mapping[str, Any]) -> None:
    """A DID document must expand with the bundled contexts only (D5); an exact document that did is remembered."""
    memo = _memos(node).did_documents
    key = digest(document)
    if memo.passed(key):
        return
    jsonld_canon.expand(document, node.loader)
    memo.remember(key)


def _retrieve(node: NodeContext, url: str) -> Mapping[str, Any]:
    own = own_list_number(node, url)
    if own is None:
        return node.fetcher(url)
    try:
        published = published_list(node, *own)
    except StatusListRollback as exc:
        raise StatusRetrievalError(str(exc)) from exc
    if published is None:
        raise StatusRetrievalError("this node has no such status list")
    return published.document


def verify_credential_for(node: NodeContext, credential: object) -> CredentialResult:
    """Verify one credential with the node's verifier (the API, the verifier page and the CLI all use this)."""
    return node_verifier(node).verify(credential)


def verify_presentation_for(node: NodeContext, presentation: object, challenge: str | None,
                            domain: str | None) -> PresentationResult:
    """Verify a presentation for the verifier's ``challenge`` and ``domain``; a used challenge is refused."""
    verifier = node_verifier(node)
    return verify_presentation(verifier, presentation, challenge=challenge, domain=domain,
                               challenges=DatabaseChallenges(node, challenge_retention(verifier.leeway)))


class DatabaseChallenges:
    """The :class:`~credentials.verify_presentation.ChallengeStore` of a node: one row per used challenge.

    Rows older than :func:`~credentials.verify_presentation.challenge_retention` are deleted as new ones arrive: a
    presentation that old is refused for its age, so its challenge no longer needs remembering.
    """

    def __init__(self, node: NodeContext, retention: timedelta) -> None:
        self.node, self.retention = node, retention

    def consume(self, challenge: str) -> bool:
        digest = hashlib.sha256(challenge.encode()).hexdigest()
        table = PresentationChallenge.__table__  # type: ignore[attr-defined]
        now = self.node.clock()
        forget_before = now - self.retention
        with transaction(self.node.engine) as db:
            db.exec(table.delete().where(table.c.used_at < forget_before))
            dialect = db.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            inserted = db.exec(
                insert(table).values(challenge_hash=digest, used_at=now)
                .on_conflict_do_nothing(index_elements=["challenge_hash"])
                .returning(table.c.challenge_hash)
            ).first()
        return inserted is not None
