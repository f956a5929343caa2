"""One :data:`~credentials.verification_methods.KeyResolver` for the DID methods Passerelle reads.

``did:key`` (holders) is resolved locally from the identifier; ``did:web`` (organisations) through the ``fetch``
callable the caller passes (the node's guarded, caching fetcher), then :func:`from_did_document` picks the method
and the relationships that list it. Any other method is refused before anything happens. ``local`` lets a node
answer for its own DID from its database instead of fetching its own URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from credentials import did_key
from credentials.did_resolve import CheckJsonLd, FetchJson, resolve_did_web
from credentials.errors import InvalidDidError
from credentials.verification_methods import KeyResolver, VerificationMethod, from_did_document

LocalDocuments = Callable[[str], Mapping[str, Any] | None]
"""``local(did)`` → the DID document of a DID the caller holds itself, or ``None`` to resolve it normally."""


def key_resolver(
    fetch: FetchJson | None,
    *,
    http_for_localhost: bool = False,
    check_jsonld: CheckJsonLd | None = None,
    local: LocalDocuments | None = None,
) -> KeyResolver:
    """A resolver for ``did:key`` and ``did:web`` verification method ids; ``fetch=None`` allows ``did:key`` only."""

    def resolve(method_id: str) -> VerificationMethod:
        if not isinstance(method_id, str) or "#" not in method_id:
            raise InvalidDidError("a verification method id must be a DID URL with a fragment")
        did = method_id.split("#", 1)[0]
        if did.startswith("did:key:"):
            return did_key.resolve_verification_method(method_id)
        if not did.startswith("did:web:"):
            raise InvalidDidError("only did:key and did:web keys are accepted")
        document = local(did) if local is not None else None
        if document is None:
            if fetch is None:
                raise InvalidDidError("did:web keys cannot be resolved here")
            document = resolve_did_web(did, fetch, http_for_localhost=http_for_localhost,
                                       check_jsonld=check_jsonld).document
        return from_did_document(document, method_id)

    return resolve
