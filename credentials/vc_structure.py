"""The shape of credentials and presentations: Verifiable Credentials Data Model 2.0, §4 "Basic concepts".

https://www.w3.org/TR/vc-data-model-2.0/ . These checks are plain JSON checks that cost nothing and run before any
JSON-LD processing or key lookup: the required properties (``@context`` with the VC 2.0 context first, ``type``,
``issuer``, ``credentialSubject``; for a presentation ``type`` and its credentials), identifiers that must be URLs,
and ``validFrom``/``validUntil`` written as XML Schema ``dateTimeStamp`` values (§4.9). Each failure raises a
:class:`~credentials.errors.MalformedValueError` (or :class:`~credentials.errors.ParsingError` for a document that
is not a JSON object) whose message names the property, so a person can see what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from credentials.data_integrity.datetimes import parse_timestamp
from credentials.errors import MalformedValueError, ParsingError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPE = "VerifiableCredential"
PRESENTATION_TYPE = "VerifiablePresentation"
MAX_CREDENTIALS_IN_PRESENTATION = 20
# An absolute URL: a scheme, a colon and no white space (RFC 3986 §3.1); urn:uuid and did: are URLs here too.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+", re.ASCII)


def is_url(value: object) -> bool:
    """True for an absolute URL string (``https://...``, ``did:...``, ``urn:uuid:...``)."""
    return isinstance(value, str) and len(value) <= 2048 and bool(_URL.fullmatch(value))


def types_of(document: Mapping[str, Any]) -> list[str]:
    """The ``type`` values of a document as a list (a single string counts as a list of one)."""
    value = document.get("type")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return []


def issuer_id(credential: Mapping[str, Any]) -> str | None:
    """The issuer's identifier, whether ``issuer`` is a URL or an object with an ``id``."""
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def holder_id(presentation: Mapping[str, Any]) -> str | None:
    holder = presentation.get("holder")
    if isinstance(holder, Mapping):
        holder = holder.get("id")
    return holder if isinstance(holder, str) else None


def check_credential(document: object) -> None:
    """Refuse a document that is not a well-formed VC 2.0 credential. The proof is the proof check's business."""
    credential = _object(document, "credential")
    _check_context(credential)
    _check_id(credential, "id")
    _check_types(credential, CREDENTIAL_TYPE)
    issuer = credential.get("issuer")
    if issuer is None:
        raise MalformedValueError("issuer is required")
    if isinstance(issuer, Mapping):
        if not is_url(issuer.get("id")):
            raise MalformedValueError("issuer.id must be a URL")
    elif not is_url(issuer):
        raise MalformedValueError("issuer must be a URL or an object with an id")
    _check_subjects(credential.get("credentialSubject"))
    valid_from = _timestamp(credential, "validFrom")
    valid_until = _timestamp(credential, "validUntil")
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise MalformedValueError("validUntil is earlier than validFrom")
    for name in ("credentialStatus", "credentialSchema", "evidence", "termsOfUse", "refreshService"):
        _check_typed_objects(credential, name)


def check_presentation(document: object) -> list[Mapping[str, Any]]:
    """Refuse a malformed VC 2.0 presentation; return its embedded credentials (not yet checked themselves)."""
    presentation = _object(document, "presentation")
    _check_context(presentation)
    _check_id(presentation, "id")
    _check_types(presentation, PRESENTATION_TYPE)
    holder = presentation.get("holder")
    if holder is not None and not (is_url(holder) or isinstance(holder, Mapping) and is_url(holder.get("id"))):
        raise MalformedValueError("holder must be a URL or an object with an id")
    raw = presentation.get("verifiableCredential", [])
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > MAX_CREDENTIALS_IN_PRESENTATION:
        raise MalformedValueError(f"a presentation may carry at most {MAX_CREDENTIALS_IN_PRESENTATION} credentials")
    for item in items:
        if not isinstance(item, Mapping):
            raise MalformedValueError("each verifiableCredential must be an embedded credential object")
        if "EnvelopedVerifiableCredential" in types_of(item):
            raise MalformedValueError("enveloped credentials are not supported; embed the secured credential")
    return items


def _object(document: object, what: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ParsingError(f"the {what} must be a JSON object")
    return document


def _check_context(document: Mapping[str, Any]) -> None:
    context = document.get("@context")
    if context is None:
        raise ParsingError("@context is required")
    if not isinstance(context, list) or not context or context[0] != VC_V2:
        raise MalformedValueError(f"@context must be a list whose first item is {VC_V2}")


def _check_id(document: Mapping[str, Any], name: str) -> None:
    if name in document and not is_url(document[name]):
        raise MalformedValueError(f"{name} must be a single URL")


def _check_types(document: Mapping[str, Any], required: str) -> None:
    value = document.get("type")
    if value is None:
        raise MalformedValueError("type is required")
    types = types_of(document)
    if not types or (isinstance(value, list) and len(types) != len(value)):
        raise MalformedValueError("type must be a string or a list of strings")
    if required not in types:
        raise MalformedValueError(f"type must include {required}")


def _check_subjects(value: object) -> None:
    if value is None:
        raise MalformedValueError("credentialSubject is required")
    subjects = value if isinstance(value, list) else [value]
    if not subjects:
        raise MalformedValueError("credentialSubject must not be empty")
    for subject in subjects:
        if not isinstance(subject, Mapping) or not subject:
            raise MalformedValueError("each credentialSubject must be a non-empty object")
        if "id" in subject and not is_url(subject["id"]):
            raise MalformedValueError("credentialSubject.id must be a URL")


def _timestamp(credential: Mapping[str, Any], name: str) -> datetime | None:
    if name not in credential:
        return None
    try:
        return parse_timestamp(credential[name])
    except ValueError:
        raise MalformedValueError(
            f"{name} must be an XML Schema dateTimeStamp with a time zone, such as 2025-01-31T12:00:00Z"
        ) from None


def _check_typed_objects(credential: Mapping[str, Any], name: str) -> None:
    if name not in credential:
        return
    value = credential[name]
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, Mapping) or not types_of(item):
            raise MalformedValueError(f"each {name} must be an object with a type")
        if "id" in item and not is_url(item["id"]):
            raise MalformedValueError(f"{name}.id must be a URL")

