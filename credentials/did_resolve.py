"""Resolving ``did:web`` identifiers: DID → URL, then the DID document through a fetcher the caller passes in.

Method spec: https://w3c-ccg.github.io/did-method-web/#read-resolve . The host is the first ``:``-separated
segment, with a port only as ``%3A`` (``did:web:example.com%3A8443``); later segments are path segments
(``did:web:example.com:user`` → ``https://example.com/user/did.json``), and without a path the document is at
``/.well-known/did.json``. This module never opens a connection: ``fetch(url)`` returns the parsed JSON (the node
passes its guarded fetcher, :mod:`nodes.fetch`). It refuses what the method forbids or what would let a DID
point somewhere else than it says: IP literals in any spelling (SECURITY D1), ``%2F``, ``.``/``..`` and empty
segments (D3), and a document whose ``id`` is not the DID asked for (D4).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from credentials.errors import CredentialError, InvalidDidError

FetchJson = Callable[[str], Any]
"""``fetch(url)`` → the parsed JSON document at ``url``; raises on any failure (refused address, size, time...)."""

CheckJsonLd = Callable[[Mapping[str, Any]], None]
"""Optional JSON-LD processing of the document (bundled contexts only); raises if the document fails it."""

DID_V1 = "https://www.w3.org/ns/did/v1"
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_SEGMENT = re.compile(r"([A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+", re.ASCII)
_MAX_DID_LENGTH = 2048


class DidNotFoundError(CredentialError):
    """The DID document could not be retrieved (DID Resolution ``notFound``)."""

    code = "notFound"


class InvalidDidDocumentError(CredentialError):
    """The retrieved document is not a DID document for this DID (DID Resolution ``invalidDidDocument``)."""

    code = "invalidDidDocument"


@dataclass(frozen=True)
class VerificationMethod:
    """One entry of ``verificationMethod``, with its ``id`` made absolute."""

    id: str
    type: str
    controller: str
    public_key_multibase: str | None = None
    public_key_jwk: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ResolvedDid:
    """A checked DID document: its methods, and which of them may assert credentials or authenticate."""

    did: str
    document: Mapping[str, Any]
    methods: Mapping[str, VerificationMethod]
    assertion_method: frozenset[str]
    authentication: frozenset[str]

    def method(self, method_id: str) -> VerificationMethod:
        """The verification method ``method_id`` (absolute or ``#fragment``); :class:`LookupError` if absent."""
        absolute = self.did + method_id if method_id.startswith("#") else method_id
        if absolute not in self.methods:
            raise LookupError(f"{method_id} is not a verification method of {self.did}")
        return self.methods[absolute]


def did_web_url(did: str, *, http_for_localhost: bool = False) -> str:
    """The URL of the DID document of a ``did:web``, refusing every form the method or SECURITY D1/D3 forbid.

    ``http_for_localhost`` (development mode only) uses ``http://`` for ``localhost`` hosts; any other host is
    always ``https://``.
    """
    if not isinstance(did, str) or len(did) > _MAX_DID_LENGTH or not did.startswith("did:web:"):
        raise InvalidDidError("not a did:web identifier")
    segments = did[len("did:web:"):].split(":")
    if any(not segment for segment in segments):
        raise InvalidDidError("did:web has an empty segment")
    host, port = _authority(segments[0])
    path = [_path_segment(segment) for segment in segments[1:]]
    local = host == "localhost" or host.endswith(".localhost")
    scheme = "http" if http_for_localhost and local else "https"
    authority = f"{host}:{port}" if port is not None else host
    return f"{scheme}://{authority}/" + ("/".join(path) + "/did.json" if path else ".well-known/did.json")


def resolve_did_web(
    did: str, fetch: FetchJson, *, http_for_localhost: bool = False, check_jsonld: CheckJsonLd | None = None
) -> ResolvedDid:
    """Fetch and check the DID document of ``did``; the document's ``id`` must be exactly ``did`` (D4).

    Raises :class:`~credentials.errors.InvalidDidError` (``invalidDid``) before any fetch for a malformed DID,
    :class:`DidNotFoundError` when ``fetch`` fails, :class:`InvalidDidDocumentError` for a wrong document.
    """
    url = did_web_url(did, http_for_localhost=http_for_localhost)
    try:
        document = fetch(url)
    except Exception as exc:  # the fetcher's errors carry safe, readable messages
        raise DidNotFoundError(f"the DID document of {did} could not be retrieved: {str(exc)[:300]}") from exc
    return parse_did_document(did, document, check_jsonld=check_jsonld)


def parse_did_document(did: str, document: Any, *, check_jsonld: CheckJsonLd | None = None) -> ResolvedDid:
    """Check a DID document's ``id`` and verification methods (DID Core §5) and index them.

    A document with ``@context`` (the JSON-LD representation) must name ``https://www.w3.org/ns/did/v1`` first
    and, when ``check_jsonld`` is given, pass it; a plain-JSON document has no ``@context``.
    """
    if not isinstance(document, Mapping):
        raise InvalidDidDocumentError("the DID document is not a JSON object")
    if document.get("id") != did:
        raise InvalidDidDocumentError(f"the DID document's id is not {did}")
    if "@context" in document:
        contexts = document["@context"]
        first = contexts[0] if isinstance(contexts, list) and contexts else contexts
        if first != DID_V1:
            raise InvalidDidDocumentError(f"the DID document's first @context must be {DID_V1}")
        if check_jsonld is not None:
            try:
                check_jsonld(document)
            except Exception as exc:
                raise InvalidDidDocumentError(f"the DID document fails JSON-LD processing: {str(exc)[:300]}") from exc
    methods: dict[str, VerificationMethod] = {}
    for raw in _list(document.get("verificationMethod"), "verificationMethod"):
        method = _method(did, raw)
        if method.id in methods:
            raise InvalidDidDocumentError(f"verification method {method.id} is listed twice")
        methods[method.id] = method
    return ResolvedDid(did, document, methods, _relationship(did, document, "assertionMethod", methods),
                       _relationship(did, document, "authentication", methods))


def _authority(segment: str) -> tuple[str, int | None]:
    decoded = segment.replace("%3A", ":").replace("%3a", ":")
    if "%" in decoded or "[" in decoded or "]" in decoded:
        raise InvalidDidError("did:web host must be a plain domain name (IP literals are not allowed)")
    host, _, port_text = decoded.partition(":")
    port = None
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidDidError("did:web port must be a number from 1 to 65535")
        port = int(port_text)
    host = host.lower()
    if _is_ip_literal(host):
        raise InvalidDidError("did:web host must be a domain name: IP addresses are not allowed")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidDidError("did:web host is not a valid domain name")
    return host, port


def _is_ip_literal(host: str) -> bool:
    # Every spelling a resolver could turn into an address: dotted, decimal (2130706433), hex (0x7f000001),
    # octal (0177.0.0.1) and short forms (127.1). A TLD is never all digits, so a numeric last label is refused.
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        pass
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or last.startswith("0x")


def _path_segment(segment: str) -> str:
    if not _SEGMENT.fullmatch(segment):
        raise InvalidDidError("did:web path segment has characters a DID does not allow")
    decoded = unquote(segment)
    if decoded in (".", "..") or any(c in decoded for c in "/\\?#") or not decoded.isprintable():
        raise InvalidDidError("did:web path segment would leave its folder (%2F, '.' or '..')")
    return segment


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDidDocumentError(f"{name} must be an array")
    return value


def _absolute(did: str, ref: Any, name: str) -> str:
    if not isinstance(ref, str) or not ref:
        raise InvalidDidDocumentError(f"{name} must hold identifiers")
    return did + ref if ref.startswith("#") else ref


def _method(did: str, raw: Any) -> VerificationMethod:
    if not isinstance(raw, Mapping):
        raise InvalidDidDocumentError("each verification method must be an object")
    method_id = _absolute(did, raw.get("id"), "verificationMethod id")
    kind, controller = raw.get("type"), raw.get("controller")
    if not isinstance(kind, str) or not isinstance(controller, str):
        raise InvalidDidDocumentError(f"verification method {method_id} needs a type and a controller")
    multibase, jwk = raw.get("publicKeyMultibase"), raw.get("publicKeyJwk")
    if multibase is not None and not isinstance(multibase, str) or jwk is not None and not isinstance(jwk, Mapping):
        raise InvalidDidDocumentError(f"verification method {method_id} has a malformed public key")
    return VerificationMethod(method_id, kind, controller, multibase, jwk)


def _relationship(did: str, document: Mapping[str, Any], name: str,
                  methods: dict[str, VerificationMethod]) -> frozenset[str]:
    refs = set()
    for item in _list(document.get(name), name):
        if isinstance(item, Mapping):  # an embedded method: index it with the others so it can be looked up
            method = _method(did, item)
            methods.setdefault(method.id, method)
            refs.add(method.id)
        else:
            refs.add(_absolute(did, item, name))
    return frozenset(refs)
