"""Read and check a roster CSV without touching the database.

The file must be UTF-8 (a byte-order mark is allowed, as Excel writes one); anything else is refused with the line
and byte of the first undecodable byte. Its size is checked before it is read whole (``settings.roster_max_bytes``).
Header names are case-insensitive (``Given Name`` = ``given_name``); a missing column is named. Comma or semicolon
separated (French Excel writes semicolons), as the header line shows.

Every row is checked before anything is stored, and every problem carries its line number. The same e-mail may
appear on several rows only for distinct affiliations of one person (two degrees, two periods at the company).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from nodes.roster.fields import REQUIRED_COLUMNS, RosterRow, check_row, columns
from nodes.roster.problems import RosterFileError, RowError

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 2000


@dataclass
class ParsedRoster:
    """The checked rows and the problems of the others. Nothing may be imported while ``errors`` is not empty,
    unless the administrator chose to skip the invalid rows."""

    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    data_rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def invalid_lines(self) -> int:
        return len({e.line for e in self.errors})


def human_size(size: int) -> str:
    """``32 MB``, ``1.5 MB`` or ``2 KB``: the size cap as an administrator reads it."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{size // 1024} KB"


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``stream``; a larger file is refused after reading one byte too many, not all of it."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RosterFileError(0, "too_large", limit=human_size(max_bytes))
    return data


def read_roster_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the roster at ``path``, refused from its size alone when it is too large."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RosterFileError(0, "too_large", limit=human_size(max_bytes))
        with path.open("rb") as handle:
            return read_capped(handle, max_bytes)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise RosterFileError(0, "unreadable", path=str(path)) from None


def decode(data: bytes) -> str:
    """The text of a UTF-8 file (BOM allowed); otherwise name the line and byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise RosterFileError(
            data.count(b"\n", 0, exc.start) + 1, "encoding",
            byte=exc.start + 1, column=exc.start - line_start + 1, value=f"0x{data[exc.start]:02X}",
        ) from None


def _header_name(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip(" \t").casefold())


def _header(record: list[str], kind: str) -> tuple[list[str], list[str]]:
    """The normalised column names, and the names this node ignores. Missing or repeated columns are refused."""
    names = [_header_name(cell) for cell in record]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise RosterFileError(1, "duplicate_column", columns=", ".join(repeated))
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in names]
    if missing:
        raise RosterFileError(
            1, "missing_column", columns=", ".join(missing), required=", ".join(REQUIRED_COLUMNS[kind])
        )
    known = set(columns(kind))
    return names, [n for n in names if n and n not in known]


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


class _Duplicates:
    """Finds e-mails used twice for the same affiliation, exact copies, and one e-mail given to two people."""

    def __init__(self) -> None:
        self.affiliations: dict[tuple[str, str], RosterRow] = {}
        self.people: dict[str, RosterRow] = {}

    def problem(self, row: RosterRow) -> RowError | None:
        first = self.people.get(row.email_key)
        if first is not None and first.person()[1:] != row.person()[1:]:
            return RowError(row.line, "email_other_person", {"first_line": first.line})
        earlier = self.affiliations.get((row.email_key, row.source_key))
        if earlier is not None:
            code = "duplicate_row" if earlier.content() == row.content() else "duplicate_email"
            return RowError(row.line, code, {"first_line": earlier.line})
        self.people.setdefault(row.email_key, row)
        self.affiliations[(row.email_key, row.source_key)] = row
        return None


def parse_roster(data: bytes, kind: str, this_year: int, progress: Progress | None = None) -> ParsedRoster:
    """Check every row of ``data`` for a node of ``kind``; ``this_year`` bounds the class years.

    Raises :class:`RosterFileError` when the file as a whole is refused; otherwise returns the valid rows and a
    line-numbered problem for each invalid one.
    """
    text = decode(data)
    if not text.strip():
        raise RosterFileError(0, "empty")
    total_lines = text.count("\n") + 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    result = ParsedRoster()
    duplicates = _Duplicates()
    try:
        names, result.ignored_columns = _header(next(reader), kind)
        last_line = reader.line_num
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            if progress is not None and result.data_rows % PROGRESS_EVERY == 0:
                progress(last_line, total_lines)
            if not any(cell.strip() for cell in record):
                continue
            result.data_rows += 1
            _check(record, names, kind, line, this_year, duplicates, result)
    except csv.Error as exc:
        raise RosterFileError(reader.line_num, "csv", detail=str(exc)) from None
    if result.data_rows == 0:
        raise RosterFileError(0, "no_rows")
    if progress is not None:
        progress(total_lines, total_lines)
    return result


def _check(
    record: list[str], names: list[str], kind: str, line: int, this_year: int, duplicates: _Duplicates,
    result: ParsedRoster,
) -> None:
    if len(record) > len(names) and not any(cell.strip() for cell in record[len(names):]):
        record = record[: len(names)]  # trailing empty cells, as spreadsheets write them
    if len(record) != len(names):
        result.errors.append(RowError(line, "cell_count", {"expected": len(names), "found": len(record)}))
        return
    checked = check_row(dict(zip(names, record, strict=True)), kind, line, this_year)
    if isinstance(checked, list):
        result.errors.extend(checked)
        return
    problem = duplicates.problem(checked)
    if problem is not None:
        result.errors.append(problem)
    else:
        result.rows.append(checked)
