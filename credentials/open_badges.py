"""Any affiliation as an Open Badges 3.0 ``OpenBadgeCredential`` with achievement type ``Membership``.

Spec: https://www.imsglobal.org/spec/ob/v3p0/ (§8.2 AchievementCredential, §8.x Achievement, AchievementSubject,
Profile). Education wallets and verifiers display Open Badges but know nothing of the Passerelle alumni context,
so the same facts are offered in their vocabulary: the membership is the ``Achievement``, the member is the
``AchievementSubject`` (by DID when known, and by name through an ``IdentityObject``), the organisation is the
issuer ``Profile``. Pure: the caller signs it like any other credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from credentials.affiliation import VC_V2, Affiliation
from credentials.errors import MalformedValueError

OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


@dataclass(frozen=True)
class BadgeTexts:
    """The human-readable strings of the badge, in the member's language (English defaults)."""

    name: str = "{organisation} alumni"
    description: str = "Membership of the alumni network of {organisation}."
    criteria: str = "Listed by {organisation} as one of its alumni."
    company_name: str = "{organisation} former employees"
    company_description: str = "Membership of the former-employee network of {organisation}."
    company_criteria: str = "Listed by {organisation} as one of its former employees."


def open_badge_credential(
    affiliation: Affiliation,
    *,
    credential_id: str,
    achievement_id: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_status: Sequence[Mapping[str, Any]] = (),
    texts: BadgeTexts | None = None,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` stating ``affiliation`` as a ``Membership`` achievement.

    ``achievement_id`` identifies the membership badge of the organisation (one per node and kind, such as
    ``https://alumni.example.edu/achievements/alumni``); ``credential_id`` identifies this credential.
    """
    affiliation.check()
    texts = texts or BadgeTexts()
    org = affiliation.organisation
    school = org.kind == "school"

    def say(template: str) -> str:
        return template.format(organisation=org.name)

    credential: dict[str, Any] = {
        "@context": [VC_V2, OB_V3_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": org.id, "type": ["Profile"], "name": org.name},
        "validFrom": _datetime(valid_from),
        "name": say(texts.name if school else texts.company_name),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise MalformedValueError("validUntil must be later than validFrom")
        credential["validUntil"] = _datetime(valid_until)
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Membership",
        "name": credential["name"],
        "description": say(texts.description if school else texts.company_description),
        "criteria": {"narrative": say(texts.criteria if school else texts.company_criteria)},
    }
    if affiliation.programme:
        achievement["fieldOfStudy"] = affiliation.programme
    credential["credentialSubject"] = _subject(affiliation, achievement)
    if credential_status:
        credential["credentialStatus"] = [dict(entry) for entry in credential_status]
    return credential


def _subject(affiliation: Affiliation, achievement: dict[str, Any]) -> dict[str, Any]:
    # OB 3.0 asks for ``id`` or at least one ``identifier``; the name lets wallets show whose badge it is.
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if affiliation.subject_id:
        subject["id"] = affiliation.subject_id
    subject["identifier"] = [{
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": affiliation.member_name,
        "identityType": "name",
    }]
    subject["achievement"] = achievement
    if affiliation.role:
        subject["role"] = affiliation.role
    if affiliation.class_year is not None:
        subject["term"] = str(affiliation.class_year)
    if affiliation.start_date:
        subject["activityStartDate"] = _date_as_datetime(affiliation.start_date)
    if affiliation.end_date:
        subject["activityEndDate"] = _date_as_datetime(affiliation.end_date)
    return subject


def _date_as_datetime(day: date) -> str:
    # The OB 3.0 JSON Schema asks for a date-time here (its context types the term as xsd:date).
    return f"{day.isoformat()}T00:00:00Z"


def _datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MalformedValueError("times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
