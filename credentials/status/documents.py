"""The two documents of Bitstring Status List 1.0: the entry a credential carries and the status list credential.

Spec: https://www.w3.org/TR/vc-bitstring-status-list/ §2.1 (``BitstringStatusListEntry``) and §2.2
(``BitstringStatusListCredential``). Both are plain JSON objects under the VC Data Model 2.0 context, which defines
every status-list term. Building is pure: the caller signs the list credential and stores the allocation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from credentials.status.bitstring import MAX_STATUS_SIZE, Bitstring
from credentials.status.errors import MalformedValueError, StatusRangeError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"

IssuedPurpose = Literal["revocation", "suspension"]
ISSUED_PURPOSES: tuple[IssuedPurpose, ...] = ("revocation", "suspension")

_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_MAX_INDEX_DIGITS = 18
_HEX_STATUS = re.compile(r"0x[0-9a-fA-F]{1,2}", re.ASCII)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", re.ASCII)


@dataclass(frozen=True)
class StatusMessage:
    """One ``statusMessage`` item: the status value it names and a developer-facing message."""

    status: int
    message: str


@dataclass(frozen=True)
class StatusEntry:
    """A parsed ``BitstringStatusListEntry`` whose every property has been checked against §2.1."""

    purpose: str
    index: int
    list_credential: str
    size: int = 1
    id: str | None = None
    messages: tuple[StatusMessage, ...] = ()

    def message_for(self, status: int) -> str:
        """The message for ``status``: from ``statusMessage`` if given, else "set" / "unset" (§2.1)."""
        for item in self.messages:
            if item.status == status:
                return item.message
        return "set" if status else "unset"


def status_list_entry(
    *, list_credential: str, index: int, purpose: IssuedPurpose, entry_id: str | None = None
) -> dict[str, Any]:
    """A ``credentialStatus`` entry. ``id`` defaults to ``<list URL>#<index>`` and may never equal the list URL."""
    _check_purpose(purpose)
    _check_url(list_credential, "statusListCredential")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise MalformedValueError("statusListIndex must be a non-negative integer")
    entry_id = entry_id if entry_id is not None else f"{list_credential}#{index}"
    _check_url(entry_id, "id")
    if entry_id == list_credential:
        raise MalformedValueError("the status entry id must not be the status list credential URL")
    return {
        "id": entry_id,
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_credential,
    }


def status_list_credential(
    *,
    list_id: str,
    issuer: str,
    purpose: IssuedPurpose,
    bitstring: Bitstring,
    valid_from: datetime,
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` published at ``list_id`` (§2.2, §3.1 steps 2 to 4).

    ``ttl_ms`` is the spec's ``ttl`` in milliseconds; serve the list with a ``Cache-Control`` aligned to it.
    """
    _check_purpose(purpose)
    _check_url(list_id, "id")
    _check_url(issuer, "issuer")
    subject: dict[str, Any] = {
        "id": f"{list_id}#list",
        "type": LIST_TYPE,
        "statusPurpose": purpose,
        "encodedList": bitstring.encode(),
    }
    if ttl_ms is not None:
        if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
            raise MalformedValueError("ttl must be a positive number of milliseconds")
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": [VC_V2],
        "id": list_id,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": xsd_datetime(valid_from),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise MalformedValueError("validUntil must be later than validFrom")
        credential["validUntil"] = xsd_datetime(valid_until)
    credential["credentialSubject"] = subject
    return credential


def xsd_datetime(moment: datetime) -> str:
    """A timezone-aware time as an XML Schema ``dateTimeStamp`` in UTC, to the second (``2025-01-31T12:00:00Z``)."""
    if moment.tzinfo is None:
        raise MalformedValueError("times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_entry(value: object) -> StatusEntry:
    """Check a ``credentialStatus`` object against §2.1 and return it typed.

    ``statusListIndex`` must be a base-10 string of a non-negative integer: a number, ``true``, ``"-1"`` or
    ``"abc"`` is ``MALFORMED_VALUE_ERROR``; an index too large for any list is ``RANGE_ERROR``.
    """
    if not isinstance(value, Mapping):
        raise MalformedValueError("credentialStatus must be an object")
    types = value.get("type")
    if types != ENTRY_TYPE and not (isinstance(types, list) and ENTRY_TYPE in types):
        raise MalformedValueError(f"credentialStatus type must be {ENTRY_TYPE}")
    purpose = value.get("statusPurpose")
    if not isinstance(purpose, str) or not purpose:
        raise MalformedValueError("statusPurpose must be a non-empty string")
    list_credential = _check_url(value.get("statusListCredential"), "statusListCredential")
    entry_id = value.get("id")
    if entry_id is not None:
        entry_id = _check_url(entry_id, "id")
        if entry_id == list_credential:
            raise MalformedValueError("the status entry id must not be the status list credential URL")
    size = value.get("statusSize", 1)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_STATUS_SIZE:
        raise MalformedValueError(f"statusSize must be an integer from 1 to {MAX_STATUS_SIZE}")
    messages = _parse_messages(value.get("statusMessage"), size)
    return StatusEntry(purpose, _parse_index(value.get("statusListIndex")), list_credential, size,
                       entry_id, messages)


def _parse_index(raw: object) -> int:
    if not isinstance(raw, str) or not _INDEX.fullmatch(raw):
        raise MalformedValueError("statusListIndex must be a base-10 string of a non-negative integer")
    if len(raw) > _MAX_INDEX_DIGITS:
        raise StatusRangeError("statusListIndex is larger than any status list")
    return int(raw)


def _parse_messages(raw: object, size: int) -> tuple[StatusMessage, ...]:
    if raw is None:
        if size > 1:
            raise MalformedValueError("statusMessage is required when statusSize is greater than 1")
        return ()
    if not isinstance(raw, list) or len(raw) != 1 << size:
        raise MalformedValueError(f"statusMessage must be an array of {1 << size} items")
    messages = []
    for item in raw:
        status = item.get("status") if isinstance(item, Mapping) else None
        message = item.get("message") if isinstance(item, Mapping) else None
        if not isinstance(status, str) or not _HEX_STATUS.fullmatch(status) or not isinstance(message, str):
            raise MalformedValueError("each statusMessage item needs a '0x' hexadecimal status and a message")
        messages.append(StatusMessage(int(status, 16), message))
    return tuple(messages)


def _check_purpose(purpose: object) -> None:
    if purpose not in ISSUED_PURPOSES:
        raise MalformedValueError("statusPurpose must be 'revocation' or 'suspension'")


def _check_url(value: object, name: str) -> str:
    # A URL here is anything with a scheme; the fetcher, not this check, decides which URLs may be dereferenced.
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise MalformedValueError(f"{name} must be a URL")
    return value
