"""Roster import at scale: 100,000 school rows into a fresh node, on SQLite and optionally PostgreSQL.

For each database it prints the seconds and rows per second of three imports of the same roster: the first
(everything created), the same file again (everything unchanged: the re-import only reads), and a corrected file
(every row updated). PostgreSQL runs when ``--postgres URL`` or ``PASSERELLE_TEST_POSTGRES_URL`` is given; the
benchmark creates a database of its own there and drops it at the end.

    .venv/bin/python bench/roster_import.py [--rows 100000] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_support import postgres_database, school_node  # noqa: E402

from nodes.roster.apply import AFFILIATIONS, MEMBERS, import_roster  # noqa: E402

GIVEN = ["Camille", "Léa", "Hugo", "Amina", "Noah", "Sofia", "Jules", "Zoé", "Karim", "Inès"]
FAMILY = ["Martin", "Dubois", "Bernard", "Diallo", "Smith", "Rossi", "Petit", "Nguyen", "Haddad", "Moreau"]
PROGRAMMES = ["Génie logiciel", "Informatique", "Génie civil", "Design", "Science des données", "Management"]
DEGREES = ["Licence", "Master", "Doctorat", "MBA"]


def roster(rows: int, groups: str) -> bytes:
    """``rows`` school rows; every tenth person has a second degree (two affiliations, one e-mail)."""
    lines = ["email,given_name,family_name,programme,degree,class_year,groups"]
    person = 0
    while len(lines) <= rows:
        given, family = GIVEN[person % 10], FAMILY[(person // 10) % 10]
        email = f"{given.lower()}.{family.lower()}.{person}@bench.example.org"
        lines.append(f"{email},{given},{family},{PROGRAMMES[person % 6]},{DEGREES[person % 4]},"
                     f"{1980 + person % 45},{groups}")
        if person % 10 == 0 and len(lines) <= rows:
            lines.append(f"{email},{given},{family},{PROGRAMMES[(person + 1) % 6]},MBA,{1990 + person % 35},")
        person += 1
    return ("\n".join(lines) + "\n").encode()


def run(label: str, database_url: str, rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        node = school_node(folder, database_url)
        engine = node.engine
        first = roster(rows, "Association des anciens;Club robotique")
        corrected = roster(rows, "Association des anciens")
        print(f"{label}: {rows} rows, {len(first) / 1e6:.1f} MB")
        for name, data in (("first import", first), ("same file again", first), ("every row corrected", corrected)):
            started = time.perf_counter()
            report = import_roster(node, data, actor="bench", source="bench.csv")
            seconds = time.perf_counter() - started
            assert report.imported, report.errors[:5]
            print(f"  {name:20} {seconds:6.2f} s  {rows / seconds:9.0f} rows/s  "
                  f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged})")
        with engine.connect() as conn:
            members = conn.execute(select(func.count()).select_from(MEMBERS)).scalar_one()
            affiliations = conn.execute(select(func.count()).select_from(AFFILIATIONS)).scalar_one()
        print(f"  stored: {members} members, {affiliations} affiliations")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("PASSERELLE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    run("SQLite", "", args.rows)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            run("PostgreSQL", url, args.rows)


if __name__ == "__main__":
    main()
