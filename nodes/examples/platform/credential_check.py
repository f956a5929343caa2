"""Verifying the affiliation credentials a network sent with UserInfo, without trusting the transport.

A platform that only read the ``affiliations`` claim would believe whatever arrived over that connection. The
credentials are signed by the organisation, so the platform checks, for each one and with the :mod:`credentials`
library: that its issuer is the network the member signed in with (its ``did:web``), that the Data Integrity proof
verifies with a key of that issuer's DID document, that it is within its validity period, and that its status list
(signed by the same issuer) does not say revoked or suspended. A status that cannot be read is *unknown*, never
valid. Documents are fetched only from the network's own origin, with a size cap and a timeout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from credentials.data_integrity import verify_proof
from credentials.data_integrity.datetimes import parse_timestamp
from credentials.did_resolve import resolve_did_web
from credentials.did_web import did_from_base_url
from credentials.errors import CredentialError
from credentials.jsonld_loader import JsonLdLoader
from credentials.status.check import check_credential_status
from credentials.status.errors import StatusError
from credentials.verification_methods import VerificationMethod, from_did_document
from nodes.examples.platform.texts import Message

MAX_CREDENTIALS = 20
MAX_CREDENTIAL_BYTES = 64 * 1024
MAX_FETCH_BYTES = 512 * 1024
FETCH_TIMEOUT = 5.0
SKEW = timedelta(minutes=5)
FetchJson = Callable[[str], Any]


@dataclass(frozen=True)
class Check:
    """One named check; ``ok`` is ``None`` when the answer is unknown (which never counts as passed)."""

    name: str
    ok: bool | None
    detail: Message  # worded in the page's language


@dataclass(frozen=True)
class CredentialResult:
    title: str
    verified: bool
    checks: tuple[Check, ...]


def same_origin_fetcher(origin: str, client: httpx.Client) -> FetchJson:
    """``fetch(url)`` for JSON documents of ``origin`` only: no redirects, no other host, at most 512 KB."""
    want = urlsplit(origin)

    def fetch(url: str) -> Any:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (want.scheme, want.netloc):
            raise ValueError(f"{url} is not on {origin}: the platform fetches only from the network it trusts")
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise ValueError(f"{url} answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FETCH_BYTES:
                    raise ValueError(f"{url} is larger than {MAX_FETCH_BYTES} bytes")
        return json.loads(body)

    return fetch


def verify_received(credentials: Any, issuer_url: str, fetch: FetchJson, loader: JsonLdLoader, *,
                    http_for_localhost: bool = False,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[CredentialResult]:
    """Check every credential received from the network at ``issuer_url``; a result names every check."""
    if not isinstance(credentials, list):
        return [CredentialResult("affiliation_credentials", False,
                                 (Check("shape", False, Message("detail.not_a_list")),))]
    did = did_from_base_url(issuer_url)
    resolver = _Resolver(did, fetch, http_for_localhost)
    return [_verify_one(item, did, resolver, loader, clock, fetch) for item in credentials[:MAX_CREDENTIALS]]


class _Resolver:
    """Resolves verification methods of the expected issuer only, fetching its DID document once."""

    def __init__(self, did: str, fetch: FetchJson, http_for_localhost: bool) -> None:
        self.did, self.fetch, self.http_for_localhost = did, fetch, http_for_localhost
        self.document: Mapping[str, Any] | None = None

    def __call__(self, method_id: str) -> VerificationMethod:
        if method_id.split("#", 1)[0] != self.did:
            raise CredentialError(f"the proof's key {method_id[:120]} is not a key of {self.did}")
        if self.document is None:
            self.document = resolve_did_web(self.did, self.fetch, http_for_localhost=self.http_for_localhost).document
        return from_did_document(self.document, method_id)


def _verify_one(credential: Any, did: str, resolver: _Resolver, loader: JsonLdLoader,
                clock: Callable[[], datetime], fetch: FetchJson) -> CredentialResult:
    if not isinstance(credential, dict) or len(json.dumps(credential)) > MAX_CREDENTIAL_BYTES:
        return CredentialResult("credential", False, (Check("shape", False, Message("detail.shape")),))
    checks = [_issuer(credential, did), _signature(credential, did, resolver, loader, clock),
              _validity(credential, clock()), _status(credential, did, resolver, loader, clock, fetch)]
    return CredentialResult(_title(credential), all(c.ok is True for c in checks), tuple(checks))


def _issuer(credential: Mapping[str, Any], did: str) -> Check:
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if issuer_id != did:
        return Check("issuer", False, Message("detail.issuer_other", issuer=str(issuer_id)[:120], did=did))
    return Check("issuer", True, Message("detail.issuer_ok", did=did))


def _signature(credential: Mapping[str, Any], did: str, resolver: _Resolver, loader: JsonLdLoader,
               clock: Callable[[], datetime]) -> Check:
    try:
        proof = verify_proof(credential, loader=loader, resolve_key=resolver, clock=clock, expected_controller=did)
    except (CredentialError, ValueError) as exc:
        return Check("signature", False, Message("detail.signature_failed", reason=str(exc)[:200],
                                                 code=getattr(exc, "code", "PROOF_VERIFICATION_ERROR")))
    return Check("signature", True, Message("detail.signature_ok", method=proof.verification_method))


def _validity(credential: Mapping[str, Any], now: datetime) -> Check:
    try:
        valid_from = parse_timestamp(credential.get("validFrom"))
        until = credential.get("validUntil")
        valid_until = parse_timestamp(until) if until is not None else None
    except ValueError as exc:
        return Check("validity", False, Message("detail.dates_malformed", reason=exc))
    start, end = f"{valid_from:%Y-%m-%d}", f"{valid_until:%Y-%m-%d}" if valid_until else ""
    if valid_from > now + SKEW:
        return Check("validity", False, Message("detail.not_yet_valid", start=start))
    if valid_until is not None and valid_until <= now:
        return Check("validity", False, Message("detail.expired", end=end))
    if valid_until is None:
        return Check("validity", True, Message("detail.valid_since", start=start))
    return Check("validity", True, Message("detail.valid_between", start=start, end=end))


def _status(credential: Mapping[str, Any], did: str, resolver: _Resolver, loader: JsonLdLoader,
            clock: Callable[[], datetime], fetch: FetchJson) -> Check:
    def verify_list(document: Mapping[str, Any]) -> None:
        verify_proof(document, loader=loader, resolve_key=resolver, clock=clock, expected_controller=did)

    try:
        results = check_credential_status(credential, retrieve=fetch, verify_list=verify_list)
    except StatusError as exc:
        return Check("status", None, Message("detail.status_unknown", code=exc.code, reason=str(exc)[:200]))
    except (CredentialError, ValueError) as exc:
        return Check("status", None, Message("detail.status_unknown", code=getattr(exc, "code", "PARSING_ERROR"),
                                             reason=str(exc)[:200]))
    if not results:
        return Check("status", True, Message("detail.no_status"))
    bad = [r for r in results if not r.valid]
    if bad:
        return Check("status", False, Message("detail.status_bad",
                                              problems="; ".join(f"{r.purpose}: {r.message}" for r in bad)))
    return Check("status", True, Message("detail.status_ok"))


def _title(credential: Mapping[str, Any]) -> str:
    types = credential.get("type")
    kind = next((t for t in types if t != "VerifiableCredential"), "credential") if isinstance(types, list) else ""
    subject = credential.get("credentialSubject")
    role = subject.get("alumniOf") if isinstance(subject, Mapping) else None
    if not isinstance(role, Mapping):
        return str(kind)
    parts = [role.get(k) for k in ("programme", "degree", "classYear", "roleName", "department")]
    words = ", ".join(str(p) for p in parts if p is not None)
    return f"{kind}: {words}" if words else str(kind)
