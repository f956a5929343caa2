"""Affiliation credentials: ``AlumniCredential`` (school) and ``EmployeeAlumniCredential`` (company).

The vocabulary is the Passerelle alumni context, ``https://w3id.org/passerelle/alumni/v1`` (bundled in
``schemas/contexts/passerelle-alumni-v1.jsonld``; every node also serves it at ``/contexts/alumni/v1``), which maps
onto schema.org where a term exists. The subject follows schema.org's Role pattern: a ``Person`` whose
``alumniOf`` is an ``OrganizationRole`` (school) or ``EmployeeRole`` (company), itself ``alumniOf`` the
organisation. See ``docs/credentials.md``.

This module builds the unsigned credential and checks a credential against the type's JSON Schema (draft
2020-12, ``schemas/json_schemas``). Signing, status allocation and storage happen elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from credentials.errors import MalformedValueError
from schemas.loader import load_json_schema

VC_V2 = "https://www.w3.org/ns/credentials/v2"
ALUMNI_CONTEXT = "https://w3id.org/passerelle/alumni/v1"
ALUMNI_CONTEXT_PATH = "/contexts/alumni/v1"
"""Where every node serves the alumni context (same bytes as the bundled file)."""

OrganisationKind = Literal["school", "company"]
CREDENTIAL_TYPE: dict[OrganisationKind, str] = {
    "school": "AlumniCredential",
    "company": "EmployeeAlumniCredential",
}


@dataclass(frozen=True)
class Organisation:
    """The issuing organisation: its DID (``did:web``), display name and kind."""

    id: str
    name: str
    kind: OrganisationKind


@dataclass(frozen=True)
class Affiliation:
    """One member's tie to an organisation, as the roster states it.

    School fields: ``programme``, ``degree``, ``class_year``, ``groups``; company fields: ``role``, ``department``;
    both may carry ``start_date`` and ``end_date`` (a company affiliation needs ``start_date``).
    ``subject_id`` is the holder's DID when known; without it the credential names the member only.
    """

    organisation: Organisation
    member_name: str
    subject_id: str | None = None
    programme: str | None = None
    degree: str | None = None
    class_year: int | None = None
    groups: tuple[str, ...] = field(default=())
    role: str | None = None
    department: str | None = None
    start_date: date | None = None
    end_date: date | None = None

    def check(self) -> None:
        """Refuse an affiliation whose fields do not fit its organisation's kind, or whose dates are reversed."""
        kind = self.organisation.kind
        if kind not in CREDENTIAL_TYPE:
            raise MalformedValueError(f"organisation kind must be 'school' or 'company', not {kind!r}")
        wrong = _school_only(self) if kind == "company" else _company_only(self)
        if wrong:
            raise MalformedValueError(f"a {kind} affiliation cannot carry {', '.join(wrong)}")
        if kind == "company" and self.start_date is None:
            raise MalformedValueError("a company affiliation needs a start date")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise MalformedValueError("the end date of an affiliation cannot be before its start date")


def credential_type(affiliation: Affiliation) -> str:
    """``AlumniCredential`` for a school, ``EmployeeAlumniCredential`` for a company."""
    return CREDENTIAL_TYPE[affiliation.organisation.kind]


def affiliation_subject(affiliation: Affiliation) -> dict[str, Any]:
    """The ``credentialSubject``: a Person whose ``alumniOf`` role points at the organisation."""
    affiliation.check()
    org = affiliation.organisation
    school = org.kind == "school"
    role: dict[str, Any] = {
        "type": "OrganizationRole" if school else "EmployeeRole",
        "alumniOf": {"id": org.id, "type": "EducationalOrganization" if school else "Organization",
                     "name": org.name},
    }
    optional: dict[str, Any] = {
        "programme": affiliation.programme,
        "degree": affiliation.degree,
        "classYear": affiliation.class_year,
        "groups": list(affiliation.groups) or None,
        "roleName": affiliation.role,
        "department": affiliation.department,
        "startDate": affiliation.start_date.isoformat() if affiliation.start_date else None,
        "endDate": affiliation.end_date.isoformat() if affiliation.end_date else None,
    }
    role.update({key: value for key, value in optional.items() if value is not None})
    subject: dict[str, Any] = {"type": "Person", "name": affiliation.member_name, "alumniOf": role}
    if affiliation.subject_id:
        subject = {"id": affiliation.subject_id, **subject}
    return subject


def affiliation_credential(
    affiliation: Affiliation,
    *,
    credential_id: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_status: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The unsigned ``AlumniCredential`` / ``EmployeeAlumniCredential``, checked against its JSON Schema.

    ``credential_id`` is chosen by the caller (``urn:uuid:...``), so that this function stays deterministic.
    """
    credential: dict[str, Any] = {
        "@context": [VC_V2, ALUMNI_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", credential_type(affiliation)],
        "issuer": {"id": affiliation.organisation.id, "name": affiliation.organisation.name},
        "validFrom": _xsd_datetime(valid_from),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise MalformedValueError("validUntil must be later than validFrom")
        credential["validUntil"] = _xsd_datetime(valid_until)
    credential["credentialSubject"] = affiliation_subject(affiliation)
    if credential_status:
        credential["credentialStatus"] = [dict(entry) for entry in credential_status]
    check_credential_schema(credential)
    return credential


def check_credential_schema(credential: Mapping[str, Any]) -> None:
    """Validate a Passerelle credential against the JSON Schema of its type; the most relevant problem is reported.

    Raises :class:`MalformedValueError` naming the failing path, e.g. ``credentialSubject.alumniOf.classYear``.
    jsonschema-rs decides (about a hundred times faster than the Python validator, which matters when a whole roster
    is issued, and it checks ``date-time`` formats that the Python one skips without an extra package); the Python
    validator, run only on a refusal, picks the error to report with its relevance heuristics.
    """
    types = credential.get("type")
    known = [t for t in (types if isinstance(types, list) else []) if t in CREDENTIAL_TYPE.values()]
    if len(known) != 1:
        raise MalformedValueError("the credential must have exactly one Passerelle affiliation type")
    try:
        if _fast_validator(known[0]).is_valid(credential):
            return
    except ValueError:
        pass  # not a JSON document (a value jsonschema-rs cannot convert): the Python validator explains
    error = best_match(_explaining_validator(known[0]).iter_errors(credential))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "(credential)"
        # A regular expression means nothing to a person reading the reason: say what is wrong instead.
        reason = "the value is not in the expected form" if error.validator == "pattern" else error.message
        raise MalformedValueError(f"{known[0]} does not match its schema at {where}: {reason[:200]}")
    fast_error = next(iter(_fast_validator(known[0]).iter_errors(credential)), None)
    where = ".".join(str(part) for part in fast_error.instance_path) if fast_error is not None else ""
    reason = fast_error.message if fast_error is not None else "the value is not in the expected form"
    raise MalformedValueError(f"{known[0]} does not match its schema at {where or '(credential)'}: {reason[:200]}")


@cache
def _fast_validator(credential_type: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(load_json_schema(credential_type), validate_formats=True)


@cache
def _explaining_validator(credential_type: str) -> Draft202012Validator:
    schema = load_json_schema(credential_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _school_only(affiliation: Affiliation) -> list[str]:
    fields = {"programme": affiliation.programme, "degree": affiliation.degree,
              "class year": affiliation.class_year, "groups": affiliation.groups}
    return [name for name, value in fields.items() if value]


def _company_only(affiliation: Affiliation) -> list[str]:
    fields = {"role": affiliation.role, "department": affiliation.department}
    return [name for name, value in fields.items() if value]


def _xsd_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MalformedValueError("times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
