"""Members and affiliations written straight into a node's tables, for tests that need people on the roster.

The roster importer has tests of its own; these helpers let sign-in, claim and member-page tests seed exactly the
rows they need without going through it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from nodes.members import email_key, hash_password
from nodes.storage.db import transaction
from nodes.storage.models import Affiliation, Member

PASSWORD = "correct horse battery staple"


def seed_member(
    engine: Engine,
    email: str = "alice@ecole.example",
    given_name: str = "Alice",
    family_name: str = "Martin",
    password: str | None = None,
    affiliations: list[dict[str, Any]] | None = None,
    is_admin: bool = False,
) -> Member:
    """Insert a member (claimed when ``password`` is given) and their affiliations; returns the member."""
    now = datetime.now(UTC)
    member = Member(
        public_id=secrets.token_hex(8), email=email, email_key=email_key(email), given_name=given_name,
        family_name=family_name, password_hash=hash_password(password) if password else None, is_admin=is_admin,
        created_at=now, updated_at=now, claimed_at=now if password else None,
    )
    with transaction(engine) as db:
        db.add(member)
        db.flush()
        for index, values in enumerate(affiliations or []):
            db.add(Affiliation(member_id=member.id, source_key=f"seed-{index}", created_at=now, updated_at=now,
                               **values))
    return member


SCHOOL_AFFILIATION: dict[str, Any] = {
    "kind": "school", "programme": "Génie civil", "degree": "Master", "class_year": 2018,
    "groups": ["Association des anciens", "Club robotique"],
}
COMPANY_AFFILIATION: dict[str, Any] = {
    "kind": "company", "role": "Data engineer", "department": "R&D",
    "start_date": date(2019, 9, 1), "end_date": date(2023, 6, 30),
}
