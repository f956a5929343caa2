"""The roster columns of each kind of node, and the check of one row.

A school lists degrees (``programme``, ``degree``, ``class_year``, optional ``groups`` separated by ``;``); a
company lists periods of employment (``role``, ``department``, ``start_date``, optional ``end_date``, ISO dates).
Every row names one person (``email``, ``given_name``, ``family_name``) and one affiliation of that person.

Cells are stored verbatim apart from surrounding spaces: formula-looking cells (``=``, ``+``, ``-``, ``@``, tab,
carriage return) are kept as typed and neutralised only when written back to CSV (``export.py``). NUL bytes are
refused everywhere (SECURITY B1), and names refuse every control character because they go into mail headers.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from nodes.members import InvalidEmail, email_key
from nodes.roster.problems import RowError, shown

PERSON_COLUMNS = ("email", "given_name", "family_name")
REQUIRED_COLUMNS = {
    "school": (*PERSON_COLUMNS, "programme", "degree", "class_year"),
    "company": (*PERSON_COLUMNS, "role", "department", "start_date"),
}
OPTIONAL_COLUMNS = {"school": ("groups",), "company": ("end_date",)}
EMAIL_MAX = 320
TEXT_MAX = 200
GROUP_MAX = 100
GROUPS_MAX = 50
FIRST_CLASS_YEAR = 1900
CLASS_YEARS_AHEAD = 10
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def columns(kind: str) -> tuple[str, ...]:
    """Every column a roster of ``kind`` may hold, required first, in the order ``export`` writes them."""
    return REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One checked row: a person and one of their affiliations, keyed by ``(email_key, source_key)``."""

    line: int
    email: str
    email_key: str
    given_name: str
    family_name: str
    kind: str
    source_key: str
    programme: str | None = None
    degree: str | None = None
    class_year: int | None = None
    groups: tuple[str, ...] = ()
    role: str | None = None
    department: str | None = None
    start_date: date | None = None
    end_date: date | None = None

    def person(self) -> tuple[str, str, str]:
        return (self.email, self.given_name, self.family_name)

    def affiliation(self) -> dict[str, Any]:
        """The affiliation's stored fields (without member, source key and timestamps)."""
        return {
            "kind": self.kind, "programme": self.programme, "degree": self.degree, "class_year": self.class_year,
            "groups": list(self.groups), "role": self.role, "department": self.department,
            "start_date": self.start_date, "end_date": self.end_date,
        }

    def content(self) -> tuple[Any, ...]:
        """Everything but the line number: two rows with the same content are exact duplicates."""
        return (self.person(), self.source_key, tuple(sorted(self.affiliation().items())))


def _fold(value: str) -> str:
    """The comparison form of a key part: NFKC, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def source_key(kind: str, *parts: Any) -> str:
    """The affiliation's identity within the roster: a digest of its folded key fields.

    School: programme, degree, class year. Company: role, department, start date. Re-importing a row with the same
    key updates the affiliation instead of adding a second one; a digest keeps the key short whatever the cells hold.
    """
    folded = [_fold(p) if isinstance(p, str) else str(p) for p in parts]
    digest = hashlib.sha256(json.dumps(folded, ensure_ascii=False).encode()).hexdigest()
    return f"{kind}:{digest}"


class _Cells:
    """Reads the cells of one row, collecting every problem rather than stopping at the first."""

    def __init__(self, cells: dict[str, str], line: int) -> None:
        self.cells = cells
        self.line = line
        self.errors: list[RowError] = []

    def fail(self, code: str, **values: Any) -> None:
        self.errors.append(RowError(self.line, code, values))

    def text(self, column: str, limit: int = TEXT_MAX, required: bool = True) -> str | None:
        value = self.cells.get(column, "").strip(" ")
        if not value:
            if required:
                self.fail("required", column=column)
            return None
        if len(value) > limit:
            self.fail("too_long", column=column, limit=limit)
            return None
        return value

    def name(self, column: str) -> str | None:
        value = self.text(column)
        if value is not None and _CONTROL.search(value):
            self.fail("control_character", column=column)
            return None
        return value

    def email(self) -> tuple[str, str] | None:
        value = self.text("email", EMAIL_MAX)
        if value is None:
            return None
        try:
            return value, email_key(value)
        except InvalidEmail:
            self.fail("email", value=shown(value))
            return None

    def day(self, column: str, required: bool = True) -> date | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        try:
            if not _ISO_DATE.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.fail("date", column=column, value=shown(value))
            return None

    def year(self, column: str, this_year: int) -> int | None:
        value = self.text(column)
        if value is None:
            return None
        last = this_year + CLASS_YEARS_AHEAD
        if not _YEAR.match(value) or not FIRST_CLASS_YEAR <= int(value) <= last:
            self.fail("class_year", value=shown(value), first=FIRST_CLASS_YEAR, last=last)
            return None
        return int(value)

    def groups(self) -> tuple[str, ...]:
        raw = self.cells.get("groups", "")
        found: list[str] = []
        for part in raw.split(";"):
            group = part.strip(" ")
            if group and group not in found:
                found.append(group)
        if any(len(g) > GROUP_MAX for g in found):
            self.fail("group_too_long", limit=GROUP_MAX)
        if len(found) > GROUPS_MAX:
            self.fail("too_many_groups", limit=GROUPS_MAX)
        return tuple(found)


def check_row(cells: dict[str, str], kind: str, line: int, this_year: int) -> RosterRow | list[RowError]:
    """The checked row, or every problem of the row (each with its line number)."""
    nul = [name for name, value in cells.items() if "\x00" in value]
    if nul:
        return [RowError(line, "nul_byte", {"column": name}) for name in nul]
    read = _Cells(cells, line)
    email = read.email()
    given, family = read.name("given_name"), read.name("family_name")
    if kind == "school":
        programme, degree = read.text("programme"), read.text("degree")
        year, groups = read.year("class_year", this_year), read.groups()
        if read.errors or email is None or given is None or family is None:
            return read.errors
        assert programme is not None and degree is not None and year is not None
        return RosterRow(
            line, email[0], email[1], given, family, kind, source_key(kind, programme, degree, year),
            programme=programme, degree=degree, class_year=year, groups=groups,
        )
    role, department = read.text("role"), read.text("department")
    start, end = read.day("start_date"), read.day("end_date", required=False)
    if start is not None and end is not None and end < start:
        read.fail("end_before_start", start=start.isoformat(), end=end.isoformat())
    if read.errors or email is None or given is None or family is None:
        return read.errors
    assert role is not None and department is not None and start is not None
    return RosterRow(
        line, email[0], email[1], given, family, kind, source_key(kind, role, department, start.isoformat()),
        role=role, department=department, start_date=start, end_date=end,
    )
