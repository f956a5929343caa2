"""Building the provider of one node: its store, its keys (through the keyring), its pairwise salt and clock.

The provider is made with its app and kept on ``app.state`` (two nodes in one process each have their own); its ID
token keys are unsealed then. A key is used from memory for a minute; after that it still signs while a worker
thread reads the current one, so a request never waits on the keyring, and SQLite's token endpoint, which answers on
the event loop (ADR 0600), never reads the database there. A rotation is picked up within about a minute, and the
previous key stays published meanwhile, so nothing is ever signed with an unpublished key (SECURITY X3).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from fastapi import Request

from credentials.keys import SigningKey
from federation.oidc.id_token import ID_TOKEN_ALGORITHMS
from federation.oidc.provider import Provider, ProviderConfig
from federation.oidc.subject import derive_salt
from nodes import keyring
from nodes.context import NodeContext
from nodes.oidc.store import SqlProviderStore
from nodes.storage.direct import DirectRow

KEY_CACHE_SECONDS = 60.0
#: After a failed refresh (the database unreachable), the key in memory signs this long before the next try.
KEY_RETRY_SECONDS = 5.0
log = logging.getLogger("passerelle.oidc")


class KeyringKeys:
    """:class:`federation.oidc.provider.KeySource` on the node's keyring, read ahead (see the module's docstring)."""

    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self._cache: dict[str, tuple[float, SigningKey]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Unseal the key of every ID token algorithm now (at start-up), so no request reads the keyring."""
        for purpose in sorted(set(ID_TOKEN_ALGORITHMS.values())):
            self._load(purpose)

    def signing_key(self, alg: str) -> SigningKey:
        purpose = ID_TOKEN_ALGORITHMS[alg]
        with self._lock:
            cached = self._cache.get(purpose)
            if cached is not None:
                if time.monotonic() - cached[0] >= KEY_CACHE_SECONDS and purpose not in self._refreshing:
                    self._refreshing.add(purpose)
                    threading.Thread(target=self._refresh, args=(purpose,), name="passerelle-keys",
                                     daemon=True).start()
                return cached[1]
        return self._load(purpose)  # not warmed (a key source made outside create_app)

    def _refresh(self, purpose: str) -> None:
        try:
            self._load(purpose)
        except Exception as exc:  # noqa: BLE001 (the key in memory keeps signing; the next use tries again)
            log.warning("reading the %s signing key failed: %s", purpose, type(exc).__name__)
            with self._lock:
                _, key = self._cache[purpose]
                self._cache[purpose] = (time.monotonic() - KEY_CACHE_SECONDS + KEY_RETRY_SECONDS, key)
        finally:
            with self._lock:
                self._refreshing.discard(purpose)

    def _load(self, purpose: str) -> SigningKey:
        try:
            key = keyring.current_signing_key(self.node.engine, self.node.secret, purpose)  # type: ignore[arg-type]
        except keyring.KeyringError:
            # A node initialised before this purpose existed: create (and so publish) its key, then sign.
            keyring.ensure_keys(self.node.engine, self.node.secret, self.node.clock)
            key = keyring.current_signing_key(self.node.engine, self.node.secret, purpose)  # type: ignore[arg-type]
        with self._lock:
            self._cache[purpose] = (time.monotonic(), key)
        return key

    def public_jwks(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = keyring.jwks(self.node.engine)["keys"]
        return keys


class IssuedCredentials:
    """:class:`federation.oidc.store.AffiliationCredentialSource` on the node's issued credentials.

    UserInfo hands out the member's live (active) affiliation credentials as issued and signed; it issues
    nothing itself, so a read never writes.
    """

    def __init__(self, store: SqlProviderStore) -> None:
        self.store = store

    def credentials_for(self, member_id: int, audience: str) -> list[dict[str, Any]]:
        # Through the store: UserInfo read them with its access token, or the store reads them on its connection.
        return self.store.live_credential_documents(member_id)


def build_provider(node: NodeContext) -> Provider:
    """The node's provider, its ID token keys unsealed (at start-up: no request reads the keyring)."""
    config = ProviderConfig(issuer=node.settings.base_url)
    store = SqlProviderStore(node)
    keys = KeyringKeys(node)
    keys.warm()
    return Provider(config, store, keys, derive_salt(node.secret), node.clock,
                    credential_source=IssuedCredentials(store))


def provider_of(request: Request) -> Provider:
    """The provider of the node serving ``request`` (made by :func:`nodes.app.create_app`)."""
    provider: Provider = request.app.state.oidc_provider
    return provider


def one_session(provider: Provider, refresh_hash: str | None = None, on_loop: bool = False,
                refresh_rows: Mapping[str, DirectRow | None] | None = None,
                code_hash: str | None = None, consent_member: int | None = None,
                address: str = "unknown") -> AbstractContextManager[None]:
    """The store calls made inside share one database session (see :meth:`SqlProviderStore.one_session`);
    ``address`` is the request's (:attr:`~federation.oidc.http.HttpRequest.peer`)."""
    store = provider.store
    if not isinstance(store, SqlProviderStore):
        return nullcontext()
    return store.one_session(refresh_hash=refresh_hash, on_loop=on_loop, refresh_rows=refresh_rows,
                             code_hash=code_hash, consent_member=consent_member, address=address)
