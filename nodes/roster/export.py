"""Write the roster back out as CSV, in the columns the importer reads, with formula cells neutralised.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some strip a leading tab or carriage
return first) as a formula: a roster cell such as ``=HYPERLINK(...)`` would run on the administrator's machine.
The database keeps such cells verbatim; this export prefixes them with a single quote and quotes every cell, as
the OWASP "CSV Injection" guidance says (https://owasp.org/www-community/attacks/CSV_Injection). The file is UTF-8
with a byte-order mark so that Excel shows accented names correctly; the importer accepts it as is.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlmodel import Session

from nodes.audit import record
from nodes.context import NodeContext
from nodes.roster.apply import AFFILIATIONS, MEMBERS
from nodes.roster.fields import columns
from nodes.storage.db import transaction

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_FETCH = 2000


def neutralise(cell: str) -> str:
    """``cell`` with a leading single quote when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _cells(kind: str, row: Any) -> list[str]:
    person = [row.email, row.given_name, row.family_name]
    if kind == "school":
        return [*person, row.programme or "", row.degree or "", str(row.class_year or ""), ";".join(row.groups)]
    end = row.end_date.isoformat() if row.end_date else ""
    return [*person, row.role or "", row.department or "", row.start_date.isoformat(), end]


def write_roster(node: NodeContext, stream: TextIO) -> int:
    """Write one row per affiliation of the node's kind to ``stream``; return the number of rows written."""
    kind = node.settings.kind
    query = (
        select(MEMBERS.c.email, MEMBERS.c.given_name, MEMBERS.c.family_name, AFFILIATIONS)
        .join(AFFILIATIONS, AFFILIATIONS.c.member_id == MEMBERS.c.id)
        .where(AFFILIATIONS.c.kind == kind)
        .order_by(MEMBERS.c.id, AFFILIATIONS.c.id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    writer = csv.writer(stream, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns(kind))
    count = 0
    with Session(node.engine) as db:
        for row in db.execute(query):
            writer.writerow([neutralise(cell) for cell in _cells(kind, row)])
            count += 1
    return count


def export_roster(node: NodeContext, path: Path, actor: str = "cli") -> int:
    """Write the roster to ``path`` (UTF-8 with BOM) and record a ``roster.export`` audit event."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        count = write_roster(node, handle)
    with transaction(node.engine) as db:
        record(db, node.clock, actor, "roster.export", target=path.name[:200], rows=count)
    return count
