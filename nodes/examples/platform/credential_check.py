"""Verifying the affiliation credentials a network sent with UserInfo, without trusting the transport.

A platform that only read the ``affiliations`` claim would believe whatever arrived over that connection. The
credentials are signed by the organisation, so the platform checks, for each one and with the :mod:`credentials`
library: that its issuer is the network the member signed in with (its ``did:web``), that the Data Integrity proof
verifies with a key of that issuer's DID document, that it is within its validity period, and that its status list
(signed by the same issuer) does not say revoked or suspended. A status that cannot be read is *unknown*, never
valid. Documents are fetched only from the network's own origin, with a size cap and a timeout.

A genuine credential is not yet *this member's* credential: a validly signed credential of the school, about anyone,
would pass the four checks above. So a fifth check, ``holder``, compares the credential's subject with the member
who signed in. The nodes' affiliation credentials name their subject (``credentialSubject.name``) and carry no
subject ``id`` the platform could match (:mod:`credentials.affiliation` adds one only for a known holder DID, which
the sign-in never gives the platform; the OpenID ``sub`` is pairwise and is not in the credential), so the name is
the strongest binding on offer. When the network released the member's name, a credential about another name is
*not verified* (issued to someone else); when it did not, the credential may be genuine but cannot be matched to
this sign-in, and that is its own state (:data:`UNMATCHED`), never "verified". A name is not unique: two members
with the same name at one network would match each other, which is why the page also shows whom each credential
is about.
"""

from __future__ import annotations

import json
import unicodedata
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
#: The three outcomes a page shows for a credential.
VERIFIED, UNMATCHED, NOT_VERIFIED = "verified", "unmatched", "not_verified"
#: Whose-is-it check, apart from the checks that say whether the credential is genuine.
HOLDER = "holder"
#: What of ``credentialSubject.alumniOf`` the page shows, by the label the platform words it with.
SUBJECT_ROLE_FIELDS = (("programme", "programme"), ("degree", "degree"), ("classYear", "class_year"),
                       ("groups", "groups"), ("roleName", "role"), ("department", "department"),
                       ("startDate", "start_date"), ("endDate", "end_date"))


@dataclass(frozen=True)
class Check:
    """One named check; ``ok`` is ``None`` when the answer is unknown (which never counts as passed)."""

    name: str
    ok: bool | None
    detail: Message  # worded in the page's language


@dataclass(frozen=True)
class CredentialResult:
    """One credential's checks, and whom it is about (``subject``: ``(label, value)`` pairs, the name first)."""

    title: str
    verified: bool
    checks: tuple[Check, ...]
    subject: tuple[tuple[str, str], ...] = ()

    @property
    def state(self) -> str:
        """:data:`VERIFIED` when every check passed; :data:`UNMATCHED` when the credential is genuine (every other
        check passed) but the holder could not be compared, the member's name not having been shared; else
        :data:`NOT_VERIFIED`."""
        if self.verified:
            return VERIFIED
        genuine = all(c.ok is True for c in self.checks if c.name != HOLDER)
        holder = [c.ok for c in self.checks if c.name == HOLDER]
        return UNMATCHED if genuine and holder == [None] else NOT_VERIFIED


def holder_name(*claim_sets: Mapping[str, Any]) -> str | None:
    """The member's full name as the network released it, from the first of ``claim_sets`` (UserInfo, then the ID
    token) that has one: ``name``, else ``given_name`` and ``family_name`` together, as the nodes write a
    credential's subject name. Only one part of the name is no name: it cannot tell two members apart."""
    for claims in claim_sets:
        name = claims.get("name")
        if isinstance(name, str) and name.strip():
            return name
        given, family = claims.get("given_name"), claims.get("family_name")
        if isinstance(given, str) and isinstance(family, str) and given.strip() and family.strip():
            return f"{given} {family}"
    return None


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
                    member_name: str | None, http_for_localhost: bool = False,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[CredentialResult]:
    """Check every credential received from the network at ``issuer_url`` for the member who signed in there;
    a result names every check.

    ``member_name`` is the member's name as that network released it (:func:`holder_name`), or ``None`` when it
    was not shared; it is a required argument so that no caller verifies a credential without saying whose it
    should be.
    """
    if not isinstance(credentials, list):
        return [CredentialResult("affiliation_credentials", False,
                                 (Check("shape", False, Message("detail.not_a_list")),))]
    did = did_from_base_url(issuer_url)
    resolver = _Resolver(did, fetch, http_for_localhost)
    return [_verify_one(item, did, resolver, loader, clock, fetch, member_name)
            for item in credentials[:MAX_CREDENTIALS]]


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
                clock: Callable[[], datetime], fetch: FetchJson, member_name: str | None) -> CredentialResult:
    if not isinstance(credential, dict) or len(json.dumps(credential)) > MAX_CREDENTIAL_BYTES:
        return CredentialResult("credential", False, (Check("shape", False, Message("detail.shape")),))
    checks = [_issuer(credential, did), _signature(credential, did, resolver, loader, clock),
              _validity(credential, clock()), _status(credential, did, resolver, loader, clock, fetch),
              _holder(credential, member_name)]
    return CredentialResult(_title(credential), all(c.ok is True for c in checks), tuple(checks),
                            _subject(credential))


def _subject_name(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    name = subject.get("name") if isinstance(subject, Mapping) else None
    return name if isinstance(name, str) and name.strip() else None


def _same_name(a: str, b: str) -> bool:
    """Names compared as a person reads them: Unicode-normalised (NFC), spacing collapsed, case folded."""
    def norm(name: str) -> str:
        return " ".join(unicodedata.normalize("NFC", name).split()).casefold()

    return norm(a) == norm(b)


def _holder(credential: Mapping[str, Any], member_name: str | None) -> Check:
    """Is the credential about the member who signed in? Only a name to compare with can say yes."""
    name = _subject_name(credential)
    if name is None:  # a single subject that names no one (or several subjects): it is no one's credential here
        return Check(HOLDER, False, Message("detail.holder_nameless"))
    if member_name is None:
        return Check(HOLDER, None, Message("detail.holder_unmatched", subject=name[:120]))
    if not _same_name(name, member_name):
        return Check(HOLDER, False, Message("detail.holder_other", subject=name[:120], member=member_name[:120]))
    return Check(HOLDER, True, Message("detail.holder_ok", subject=name[:120]))


def _subject(credential: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What ``credentialSubject`` says about whom the credential is about, for the page: its name, its ``id`` when
    it has one, the organisation and the role's fields."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return ()
    shown: list[tuple[str, str]] = []
    name = _subject_name(credential)
    if name is not None:
        shown.append(("subject_name", name[:120]))
    if isinstance(subject.get("id"), str):
        shown.append(("subject_id", subject["id"][:200]))
    role = subject.get("alumniOf")
    if not isinstance(role, Mapping):
        return tuple(shown)
    organisation = role.get("alumniOf")
    if isinstance(organisation, Mapping) and isinstance(organisation.get("name"), str):
        shown.append(("organisation", organisation["name"][:120]))
    for key, label in SUBJECT_ROLE_FIELDS:
        value = role.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value is not None and value != "":
            shown.append((label, str(value)[:200]))
    return tuple(shown)


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
