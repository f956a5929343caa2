"""The Passerelle alumni context and the Open Badges mapping under pyld, with only the bundled contexts.

Every example credential must expand without losing a single property: pyld silently drops a term that no
context defines, and whatever is dropped would not be covered by the signature.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pytest
from pyld import jsonld

from credentials.affiliation import ALUMNI_CONTEXT, Affiliation, Organisation, affiliation_credential
from credentials.jsonld_loader import JsonLdLoader
from credentials.open_badges import OB_V3_CONTEXT, open_badge_credential
from credentials.status import Bitstring, status_list_credential, status_list_entry
from schemas.loader import context_entry, load_context

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SCHOOL = Organisation("did:web:ecole.example", "École Exemple", "school")
COMPANY = Organisation("did:web:acme.example", "Acme", "company")
HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
STATUS = status_list_entry(list_credential="https://ecole.example/status/revocation/1", index=4711,
                           purpose="revocation")


def _school_affiliation(**changes):
    values = dict(organisation=SCHOOL, member_name="Camille Martin", subject_id=HOLDER, programme="Cycle ingénieur",
                  degree="Diplôme d'ingénieur", class_year=2015, groups=("Promo 2015", "Club robotique"),
                  start_date=date(2012, 9, 1), end_date=date(2015, 6, 30))
    values.update(changes)
    return Affiliation(**values)


def _company_affiliation(**changes):
    values = dict(organisation=COMPANY, member_name="Camille Martin", role="Data engineer", department="R&D",
                  start_date=date(2015, 9, 1), end_date=date(2021, 6, 30))
    values.update(changes)
    return Affiliation(**values)


def _examples():
    kwargs = dict(credential_id="urn:uuid:1b0e6a2c-0b5a-4a8e-9c39-2f5f7d8f0a11", valid_from=NOW,
                  credential_status=[STATUS])
    return {
        "school": affiliation_credential(_school_affiliation(), **kwargs),
        "school-minimal": affiliation_credential(_school_affiliation(subject_id=None, programme=None, degree=None,
                                                                     class_year=None, groups=(), start_date=None,
                                                                     end_date=None), **kwargs),
        "company": affiliation_credential(_company_affiliation(), **kwargs),
        "badge-school": open_badge_credential(_school_affiliation(), achievement_id="https://ecole.example/a/alumni",
                                              **kwargs),
        "badge-company": open_badge_credential(_company_affiliation(subject_id=HOLDER),
                                               achievement_id="https://acme.example/a/alumni", **kwargs),
        "status-list": status_list_credential(list_id="https://ecole.example/status/revocation/1",
                                              issuer=SCHOOL.id, purpose="revocation", bitstring=Bitstring.zeros(),
                                              valid_from=NOW, ttl_ms=300_000),
    }


def _count_terms(node) -> int:
    """Properties in compacted JSON-LD: every key except ``@context`` and the keyword aliases ``id``/``type``."""
    if isinstance(node, list):
        return sum(_count_terms(item) for item in node)
    if isinstance(node, dict):
        return sum((key not in ("@context", "id", "type")) + _count_terms(value) for key, value in node.items())
    return 0


def _count_properties(node) -> int:
    """Properties in expanded JSON-LD: every key that is an IRI rather than a keyword."""
    if isinstance(node, list):
        return sum(_count_properties(item) for item in node)
    if isinstance(node, dict):
        return sum((not key.startswith("@")) + _count_properties(value) for key, value in node.items())
    return 0


@pytest.fixture(scope="module")
def loader():
    return JsonLdLoader()


@pytest.mark.parametrize("name", ["school", "school-minimal", "company", "badge-school", "badge-company",
                                  "status-list"])
def test_example_credential_expands_under_bundled_contexts_without_dropping_a_term(loader, name):
    credential = _examples()[name]
    loader.check_contexts(credential)
    expanded = jsonld.expand(copy.deepcopy(credential), loader.pyld_options())
    assert _count_properties(expanded) == _count_terms(credential)


def test_alumni_terms_map_onto_schema_org_where_a_term_exists(loader):
    expanded = jsonld.expand(_examples()["company"], loader.pyld_options())
    iris = _iris(expanded)
    assert {"https://schema.org/alumniOf", "https://schema.org/roleName", "https://schema.org/startDate",
            "https://schema.org/endDate", "https://schema.org/EmployeeRole", "https://schema.org/Organization",
            "https://w3id.org/passerelle/alumni#department"} <= iris
    school = _iris(jsonld.expand(_examples()["school"], loader.pyld_options()))
    assert {"https://schema.org/OrganizationRole", "https://schema.org/EducationalOrganization",
            "https://schema.org/educationalCredentialAwarded", "https://w3id.org/passerelle/alumni#programme",
            "https://w3id.org/passerelle/alumni#classYear", "https://w3id.org/passerelle/alumni#groups",
            "https://w3id.org/passerelle/alumni#AlumniCredential"} <= school


def test_alumni_dates_are_typed_xsd_date(loader):
    expanded = jsonld.expand(_examples()["company"], loader.pyld_options())
    role = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]["https://schema.org/alumniOf"][0]
    assert role["https://schema.org/startDate"] == [
        {"@type": "http://www.w3.org/2001/XMLSchema#date", "@value": "2015-09-01"}
    ]


def test_open_badge_states_a_membership_achievement(loader):
    badge = _examples()["badge-school"]
    achievement = badge["credentialSubject"]["achievement"]
    assert badge["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert badge["@context"] == ["https://www.w3.org/ns/credentials/v2", OB_V3_CONTEXT]
    assert achievement["achievementType"] == "Membership" and achievement["type"] == ["Achievement"]
    assert {"id", "name", "description", "criteria"} <= set(achievement)
    assert badge["issuer"] == {"id": SCHOOL.id, "type": ["Profile"], "name": "École Exemple"}
    expanded = jsonld.expand(copy.deepcopy(badge), loader.pyld_options())
    assert "https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievementType" in _iris(expanded)


def test_open_badge_without_holder_did_identifies_the_member_by_name():
    badge = open_badge_credential(_school_affiliation(subject_id=None), credential_id="urn:uuid:x",
                                  achievement_id="https://ecole.example/a/alumni", valid_from=NOW)
    subject = badge["credentialSubject"]
    assert "id" not in subject
    assert subject["identifier"] == [{"type": "IdentityObject", "hashed": False, "identityHash": "Camille Martin",
                                      "identityType": "name"}]


def test_protected_alumni_term_cannot_be_redefined_by_a_later_context(loader):
    credential = _examples()["school"]
    credential["@context"] = [*credential["@context"], {"alumniOf": "https://evil.example/alumniOf"}]
    with pytest.raises(jsonld.JsonLdError) as caught:
        jsonld.expand(credential, {"documentLoader": loader, "base": None})
    assert "protected term redefinition" in str(caught.value) + str(getattr(caught.value, "code", ""))


def test_a_term_outside_the_alumni_context_would_be_dropped_and_is_caught_by_the_count(loader):
    credential = _examples()["school"]
    credential["credentialSubject"]["alumniOf"]["honours"] = "summa cum laude"
    expanded = jsonld.expand(credential, loader.pyld_options())
    assert _count_properties(expanded) == _count_terms(credential) - 1


def test_alumni_and_open_badges_contexts_are_bundled_with_their_hashes():
    assert context_entry(ALUMNI_CONTEXT).file == "passerelle-alumni-v1.jsonld"
    assert context_entry(OB_V3_CONTEXT).file == "purl.imsglobal.org_spec_ob_v3p0_context-3.0.3.jsonld"
    context = load_context(ALUMNI_CONTEXT)["@context"]
    assert context["@protected"] is True


def _iris(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _iris(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("@"):
                found.add(key)
            elif key == "@type":
                found |= set(value) if isinstance(value, list) else {value}
            found |= _iris(value)
    return found
