"""Everything a UserInfo answer reads, in one statement: the access token with its grant, plus the member's
affiliations and live credentials as two JSON arrays (a refresh grant reads its token with the affiliations).

Three statements cost three round trips on PostgreSQL, and about 32 µs of psycopg's client CPU each on this
machine, which mattered on the busiest endpoint (issue 4). The arrays are built by the database
(``json_agg`` / ``json_build_object`` on PostgreSQL, ``json_group_array`` / ``json_object`` on SQLite) and come
back as text, parsed only when the answer needs them (the credentials only when the ``affiliations`` claim is
released). Neither aggregate orders its elements on SQLite 3.40, so each element carries its sort keys and the
order is set here, as the one-statement reads order it: affiliations by id, credentials newest first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, String, any_, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from nodes.issuance import OPEN_BADGE
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.direct import DirectStatement
from nodes.storage.models import Affiliation

_AFFILIATIONS = Affiliation.__table__  # type: ignore[attr-defined]
_ISSUED = IssuedCredential.__table__  # type: ignore[attr-defined]
AFFILIATION_FIELDS = ("id", "kind", "programme", "degree", "class_year", "groups", "role", "department",
                      "start_date", "end_date")


def userinfo_reads(with_grant: Select[Any], member_id: Any, where: Callable[[str], Any],
                   documents: bool = True) -> dict[str, DirectStatement]:
    """``with_grant`` (tokens with their client, consent and member) plus ``affiliations_json`` and, with
    ``documents``, ``documents_json`` for each token's member (``member_id``, its column), filtered by
    ``where(dialect)``; one statement per dialect.

    A refresh grant reads the affiliations too (the new ID token may carry them), not the credentials."""
    def extras(dialect: str) -> list[Any]:
        columns = [_affiliations(dialect, member_id).label("affiliations_json")]
        if documents:
            columns.append(_documents(dialect, member_id).label("documents_json"))
        return columns

    return {dialect: DirectStatement(with_grant.add_columns(*extras(dialect)).where(where(dialect)))
            for dialect in ("postgresql", "sqlite")}


def one_of(dialect: str, column: Any, name: str) -> Any:
    """``column`` equals one of the values of the list parameter ``name``, which binds as one value whatever its
    length (so the statement compiles once): an array on PostgreSQL, a JSON array read by ``json_each`` on
    SQLite. Both look each value up in the column's index."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    values = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
    return column.in_(select(values.c.value))


def _affiliations(dialect: str, member_id: Any) -> Any:
    row = _AFFILIATIONS.alias("userinfo_affiliation")
    if dialect == "postgresql":
        element = func.json_build_object(*chain.from_iterable((literal(n), row.c[n]) for n in AFFILIATION_FIELDS))
        array = func.json_agg(element)
    else:
        values = [func.json(row.c[n]) if n == "groups" else row.c[n] for n in AFFILIATION_FIELDS]
        array = func.json_group_array(func.json_object(*chain.from_iterable(
            (literal(n), value) for n, value in zip(AFFILIATION_FIELDS, values, strict=True))))
    return select(cast(array, String)).where(row.c.member_id == member_id).scalar_subquery()


def _documents(dialect: str, member_id: Any) -> Any:
    row = _ISSUED.alias("userinfo_credential")
    at: ColumnElement[Any]
    if dialect == "postgresql":
        at = func.extract("epoch", row.c.created_at)
        array = func.json_agg(func.json_build_object(literal("id"), row.c.id, literal("at"), at,
                                                     literal("document"), row.c.document))
    else:
        at = func.julianday(row.c.created_at)
        array = func.json_group_array(func.json_object(literal("id"), row.c.id, literal("at"), at,
                                                       literal("document"), func.json(row.c.document)))
    return select(cast(array, String)).where(
        row.c.member_id == member_id, row.c.state == "active", row.c.credential_type != OPEN_BADGE,
    ).scalar_subquery()


@dataclass(frozen=True)
class AffiliationValues:
    """One affiliation as the claims code reads it (``row.kind``, ``row.start_date`` as a ``date``...)."""

    id: int
    kind: str
    programme: str | None
    degree: str | None
    class_year: int | None
    groups: list[str] | None
    role: str | None
    department: str | None
    start_date: date | None
    end_date: date | None


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _date(item.get(name)) if name.endswith("_date") else item.get(name) for name in AFFILIATION_FIELDS}


def affiliations_of(text: str | None) -> list[AffiliationValues]:
    """The ``affiliations_json`` column as rows, by id."""
    items = json.loads(text) if text else []
    rows = [AffiliationValues(**_fields(item)) for item in items]
    return sorted(rows, key=lambda row: row.id)


def documents_of(text: str | None) -> list[dict[str, Any]]:
    """The ``documents_json`` column as signed documents, newest first (then by id)."""
    items = json.loads(text) if text else []
    items.sort(key=lambda item: (-float(item["at"]), item["id"]))
    return [item["document"] for item in items]


def _date(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else None
