"""Status checking: the Validate Algorithm of Bitstring Status List 1.0 (§3.2).

https://www.w3.org/TR/vc-bitstring-status-list/#validate-algorithm . :func:`check_status` runs steps 5 to 15 on a
list credential the caller already holds and trusts; :func:`check_credential_status` runs the whole algorithm,
with retrieval (step 4, ``retrieve``) and proof verification of the list (``verify_list``) passed in, so this
module never opens a connection. Every failure raises a :class:`~credentials.status.errors.StatusError`: the
caller reports the status as unknown, never as valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from credentials.status.bitstring import MAX_LIST_BYTES, MIN_ENTRIES, decode_bitstring
from credentials.status.documents import LIST_CREDENTIAL_TYPE, LIST_TYPE, StatusEntry, parse_entry
from credentials.status.errors import (
    MalformedValueError,
    StatusError,
    StatusRetrievalError,
    StatusVerificationError,
)

RetrieveList = Callable[[str], Mapping[str, Any]]
"""Fetch the status list credential at a URL (through the node's guarded fetcher); raise on any failure."""

VerifyList = Callable[[Mapping[str, Any]], None]
"""Verify the list credential's proof and validity period; raise on any failure."""

TrustedListIssuer = Callable[[str], bool]
"""Whether a list issued by someone other than the credential's issuer may still be believed (S6)."""


@dataclass(frozen=True)
class StatusResult:
    """The result map of §3.2 steps 11 to 14: ``valid`` is true exactly when the status is 0."""

    purpose: str
    status: int
    valid: bool
    message: str
    list_credential: str
    index: int


def check_status(
    entry: StatusEntry | Mapping[str, Any],
    list_credential: Mapping[str, Any],
    *,
    min_entries: int = MIN_ENTRIES,
    max_bytes: int = MAX_LIST_BYTES,
) -> StatusResult:
    """Read one entry's status from a list credential that has already been retrieved and verified.

    Raises ``STATUS_VERIFICATION_ERROR`` when the list is not a status list for this entry (type, ``id``, purpose),
    ``STATUS_LIST_LENGTH_ERROR`` for a list shorter than ``min_entries``, ``RANGE_ERROR`` for an index past its
    end and ``MALFORMED_VALUE_ERROR`` for a malformed entry or ``encodedList``.
    """
    parsed = entry if isinstance(entry, StatusEntry) else parse_entry(entry)
    subject = _list_subject(list_credential, parsed)
    bitstring = decode_bitstring(subject.get("encodedList"), parsed.size, min_entries=min_entries,
                                 max_bytes=max_bytes)
    status = bitstring.get(parsed.index)
    return StatusResult(parsed.purpose, status, status == 0, parsed.message_for(status),
                        parsed.list_credential, parsed.index)


def check_credential_status(
    credential: Mapping[str, Any],
    *,
    retrieve: RetrieveList,
    verify_list: VerifyList,
    is_trusted_list_issuer: TrustedListIssuer = lambda _issuer: False,
    min_entries: int = MIN_ENTRIES,
    max_bytes: int = MAX_LIST_BYTES,
) -> list[StatusResult]:
    """Check every ``BitstringStatusListEntry`` in ``credential['credentialStatus']`` (§3.2 steps 1 to 15).

    Each distinct list URL is retrieved once. A retrieval failure of any kind is ``STATUS_RETRIEVAL_ERROR``; a list
    that fails ``verify_list``, or whose issuer is neither the credential's issuer nor accepted by
    ``is_trusted_list_issuer``, is ``STATUS_VERIFICATION_ERROR``. Entries of other types are ignored, as the
    VC Data Model allows; a credential without status yields ``[]``.
    """
    entries = _bitstring_entries(credential.get("credentialStatus"))
    issuer = _issuer_id(credential.get("issuer"))
    lists: dict[str, Mapping[str, Any]] = {}
    results = []
    for entry in entries:
        if entry.list_credential not in lists:
            lists[entry.list_credential] = _retrieve_and_verify(entry.list_credential, retrieve, verify_list)
        list_credential = lists[entry.list_credential]
        list_issuer = _issuer_id(list_credential.get("issuer"))
        if list_issuer is None or (list_issuer != issuer and not is_trusted_list_issuer(list_issuer)):
            raise StatusVerificationError("the status list is not issued by the credential's issuer")
        results.append(check_status(entry, list_credential, min_entries=min_entries, max_bytes=max_bytes))
    return results


def _retrieve_and_verify(url: str, retrieve: RetrieveList, verify_list: VerifyList) -> Mapping[str, Any]:
    try:
        document = retrieve(url)
    except StatusError:
        raise
    except Exception as exc:
        raise StatusRetrievalError(f"the status list at {url} could not be retrieved: {_reason(exc)}") from exc
    if not isinstance(document, Mapping):
        raise StatusRetrievalError(f"the status list at {url} is not a JSON object")
    try:
        verify_list(document)
    except Exception as exc:
        raise StatusVerificationError(f"the status list credential did not verify: {_reason(exc)}") from exc
    return document


def _list_subject(list_credential: Mapping[str, Any], entry: StatusEntry) -> Mapping[str, Any]:
    types = list_credential.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise StatusVerificationError(f"the status list credential's type must include {LIST_CREDENTIAL_TYPE}")
    list_id = list_credential.get("id")
    if list_id is not None and list_id != entry.list_credential:
        raise StatusVerificationError("the status list credential's id is not the entry's statusListCredential")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_TYPE:
        raise MalformedValueError(f"the status list's credentialSubject must be one {LIST_TYPE}")
    purposes = subject.get("statusPurpose")
    purposes = [purposes] if isinstance(purposes, str) else purposes
    if not isinstance(purposes, list) or not purposes or not all(isinstance(p, str) for p in purposes):
        raise MalformedValueError("the status list's statusPurpose must be one or more strings")
    if entry.purpose not in purposes:
        raise StatusVerificationError(
            f"the entry's purpose {entry.purpose!r} is not a purpose of the status list ({', '.join(purposes)})"
        )
    return subject


def _bitstring_entries(raw: object) -> list[StatusEntry]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind == "BitstringStatusListEntry" or (isinstance(kind, list) and "BitstringStatusListEntry" in kind):
            entries.append(parse_entry(item))
        elif not isinstance(item, Mapping) or not isinstance(kind, str | list):
            raise MalformedValueError("each credentialStatus item must be an object with a type")
    return entries


def _issuer_id(issuer: object) -> str | None:
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _reason(exc: Exception) -> str:
    # Only the message of the failure is kept: it must already be safe to show (no secrets, no internal detail).
    text = str(exc) or type(exc).__name__
    return text[:300]
