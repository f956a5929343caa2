"""Building the provider of one node: its store, its keys (through the keyring), its pairwise salt and clock.

The provider is made once per app, on first use, and kept on ``app.state`` (two nodes in one process each have
their own). Unsealed signing keys are cached for a minute: a rotation is picked up within that minute, and the
previous key stays published meanwhile, so nothing is ever signed with an unpublished key (SECURITY X3).
"""

from __future__ import annotations

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
from nodes.web.sessions import node_of

KEY_CACHE_SECONDS = 60.0


class KeyringKeys:
    """:class:`federation.oidc.provider.KeySource` on the node's keyring."""

    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self._cache: dict[str, tuple[float, SigningKey]] = {}
        self._lock = threading.Lock()

    def signing_key(self, alg: str) -> SigningKey:
        purpose = ID_TOKEN_ALGORITHMS[alg]
        with self._lock:
            cached = self._cache.get(purpose)
            if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS:
                return cached[1]
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
    config = ProviderConfig(issuer=node.settings.base_url)
    store = SqlProviderStore(node)
    return Provider(
        config, store, KeyringKeys(node), derive_salt(node.secret), node.clock,
        credential_source=IssuedCredentials(store),
    )


_build_lock = threading.Lock()


def provider_of(request: Request) -> Provider:
    """The provider of the node serving ``request``."""
    state = request.app.state
    provider: Provider | None = getattr(state, "oidc_provider", None)
    if provider is None:
        with _build_lock:
            provider = getattr(state, "oidc_provider", None)
            if provider is None:
                provider = build_provider(node_of(request))
                state.oidc_provider = provider
    return provider


def one_session(provider: Provider, refresh_hash: str | None = None, on_loop: bool = False,
                refresh_rows: Mapping[str, DirectRow | None] | None = None) -> AbstractContextManager[None]:
    """The store calls made inside share one database session (see :meth:`SqlProviderStore.one_session`)."""
    store = provider.store
    if not isinstance(store, SqlProviderStore):
        return nullcontext()
    return store.one_session(refresh_hash=refresh_hash, on_loop=on_loop, refresh_rows=refresh_rows)
