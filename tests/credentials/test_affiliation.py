"""Affiliation credentials: building them and checking them against the JSON Schemas of their types."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from credentials.affiliation import (
    Affiliation,
    Organisation,
    affiliation_credential,
    check_credential_schema,
)
from credentials.errors import MalformedValueError
from schemas.loader import JSON_SCHEMA_TYPES, load_json_schema

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SCHOOL = Organisation("did:web:ecole.example", "École Exemple", "school")
COMPANY = Organisation("did:web:acme.example", "Acme", "company")


def _school(**changes):
    values = dict(organisation=SCHOOL, member_name="Camille Martin", programme="Cycle ingénieur",
                  degree="Diplôme d'ingénieur", class_year=2015, groups=("Promo 2015",))
    values.update(changes)
    return Affiliation(**values)


def _company(**changes):
    values = dict(organisation=COMPANY, member_name="Camille Martin", role="Data engineer", department="R&D",
                  start_date=date(2015, 9, 1), end_date=date(2021, 6, 30))
    values.update(changes)
    return Affiliation(**values)


def _issue(affiliation, **kwargs):
    return affiliation_credential(affiliation, credential_id="urn:uuid:5a1f", valid_from=NOW, **kwargs)


@pytest.mark.parametrize("credential_type", JSON_SCHEMA_TYPES)
def test_json_schemas_are_valid_draft_2020_12(credential_type):
    schema = load_json_schema(credential_type)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_unknown_credential_type_has_no_schema():
    with pytest.raises(LookupError):
        load_json_schema("../AlumniCredential")


def test_school_affiliation_becomes_an_alumni_credential():
    credential = _issue(_school(subject_id="did:key:z6Mkabc"))
    assert credential["type"] == ["VerifiableCredential", "AlumniCredential"]
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/passerelle/alumni/v1"]
    assert credential["credentialSubject"] == {
        "id": "did:key:z6Mkabc",
        "type": "Person",
        "name": "Camille Martin",
        "alumniOf": {
            "type": "OrganizationRole",
            "alumniOf": {"id": SCHOOL.id, "type": "EducationalOrganization", "name": "École Exemple"},
            "programme": "Cycle ingénieur",
            "degree": "Diplôme d'ingénieur",
            "classYear": 2015,
            "groups": ["Promo 2015"],
        },
    }


def test_company_affiliation_becomes_an_employee_alumni_credential_with_its_dates():
    credential = _issue(_company(), valid_until=NOW + timedelta(days=365))
    assert credential["type"] == ["VerifiableCredential", "EmployeeAlumniCredential"]
    role = credential["credentialSubject"]["alumniOf"]
    assert role["type"] == "EmployeeRole" and role["alumniOf"]["type"] == "Organization"
    assert (role["roleName"], role["department"], role["startDate"], role["endDate"]) == (
        "Data engineer", "R&D", "2015-09-01", "2021-06-30")
    assert credential["validUntil"] == "2026-03-01T12:00:00Z"


@pytest.mark.parametrize(
    ("affiliation", "reason"),
    [
        (lambda: _company(programme="MSc"), "cannot carry programme"),
        (lambda: _school(role="Student president"), "cannot carry role"),
        (lambda: _company(start_date=None), "needs a start date"),
        (lambda: _company(end_date=date(2010, 1, 1)), "before its start date"),
        (lambda: _school(class_year=1200), "classYear"),
        (lambda: _school(member_name=" "), "name"),
        (lambda: _school(groups=("A", "A")), "groups"),
        (lambda: _school(organisation=Organisation("not a did", "École", "school")), "issuer.id: the value is not"),
    ],
)
def test_an_affiliation_that_breaks_the_schema_is_refused_with_its_reason(affiliation, reason):
    with pytest.raises(MalformedValueError, match=reason):
        _issue(affiliation())


def test_naive_times_are_refused():
    with pytest.raises(MalformedValueError, match="timezone"):
        affiliation_credential(_school(), credential_id="urn:uuid:1", valid_from=datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("@context",), ["https://www.w3.org/ns/credentials/v2"], "@context"),
        (("type",), ["VerifiableCredential", "AlumniCredential", "AlumniCredential"], "type"),
        (("validFrom",), "yesterday", "validFrom"),
        (("credentialSubject", "alumniOf", "classYear"), "2015", "classYear"),
        (("credentialSubject", "alumniOf", "honours"), "summa cum laude", "alumniOf"),
        (("credentialSubject", "email"), "camille@example.org", "credentialSubject"),
        (("credentialSubject", "alumniOf", "alumniOf", "type"), "Organization", "type"),
    ],
)
def test_a_changed_credential_fails_its_schema_at_the_changed_path(path, value, where):
    credential = copy.deepcopy(_issue(_school()))
    target = credential
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(MalformedValueError, match=where):
        check_credential_schema(credential)


def test_a_credential_with_no_or_two_affiliation_types_is_refused():
    credential = _issue(_school())
    with pytest.raises(MalformedValueError, match="exactly one"):
        check_credential_schema({**credential, "type": ["VerifiableCredential"]})
    with pytest.raises(MalformedValueError, match="exactly one"):
        check_credential_schema({**credential, "type": ["VerifiableCredential", "AlumniCredential",
                                                        "EmployeeAlumniCredential"]})


def test_a_signed_credential_with_proof_and_status_still_matches_its_schema():
    credential = _issue(_company())
    credential["credentialStatus"] = [{"id": "https://acme.example/status/1#3", "type": "BitstringStatusListEntry",
                                       "statusPurpose": "revocation", "statusListIndex": "3",
                                       "statusListCredential": "https://acme.example/status/1"}]
    credential["proof"] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}
    check_credential_schema(credential)
