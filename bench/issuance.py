"""Bulk issuance at scale: one credential per affiliation for a whole school roster, end to end, timed.

A fresh node imports a generated roster (``bench/roster_import.py``'s generator; every tenth person has a second
degree, so 100,000 members hold 110,000 affiliations); the import is timed and reported apart. Then the node's own
bulk path, :func:`nodes.issuance.issue_affiliations` over :func:`nodes.issuance.pending_affiliations` (what
``passerelle credentials issue --all`` and the admin roster job run), issues everything: status-index allocation,
``eddsa-rdfc-2022`` signatures, the credential rows and the audit events, one transaction per batch. The figure
is printed beside issue 3's target (100,000 members in under 60 s on a 2-core machine). The benchmark then checks
what it measured: every affiliation has exactly one credential, no status index is used twice, and a sample of
credentials verifies. ``--profile FILE`` writes a cProfile of the issuance step.

    .venv/bin/python bench/issuance.py [--members 100000] [--postgres URL]
                                       [--sqlite-only | --postgres-only] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_support import postgres_database, school_node  # noqa: E402
from roster_import import roster  # noqa: E402

from credentials.data_integrity.proofs import verify_proof  # noqa: E402
from credentials.verification_methods import from_did_document  # noqa: E402
from nodes import keyring  # noqa: E402
from nodes.context import NodeContext  # noqa: E402
from nodes.issuance import issue_affiliations, pending_affiliations  # noqa: E402
from nodes.roster.apply import import_roster  # noqa: E402
from nodes.storage.credential_tables import IssuedCredential  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_MEMBERS = 100_000


def rows_for(members: int) -> int:
    """Roster rows for ``members`` people (one in ten has a second row)."""
    return members + (members + 9) // 10


def run(label: str, database_url: str, members: int, profile: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        node = school_node(folder, database_url)
        engine = node.engine
        keyring.ensure_keys(engine, node.secret, node.clock)
        data = roster(rows_for(members), "Association des anciens;Club robotique")
        started = time.perf_counter()
        report = import_roster(node, data, actor="bench", source="bench.csv")
        assert report.imported, report.errors[:5]
        print(f"{label}: {members} members, roster imported in {time.perf_counter() - started:.1f} s (not counted)")

        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        with Session(engine) as db:
            ids = pending_affiliations(db, open_badge=False)
        issued = issue_affiliations(node, ids, actor="bench")
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        count = len(issued.issued)
        assert not issued.skipped, issued.skipped[:5]
        assert count == len(ids), (count, len(ids))
        per_member = seconds / members
        print(f"  issued {count} credentials in {seconds:.2f} s: {count / seconds:,.0f} credentials/s, "
              f"{per_member * 1000:.3f} ms per member")
        print(f"  projected for {TARGET_MEMBERS:,} members: {per_member * TARGET_MEMBERS:.1f} s "
              f"(target < {TARGET_SECONDS:.0f} s on 2 cores; this machine has {os.cpu_count()} CPUs)")
        _check(node, count)
        if profiler and profile:
            path = f"{profile}.{label.lower()}"
            profiler.dump_stats(path)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            print(f"  profile written to {path}")
        engine.dispose()


def _check(node: NodeContext, count: int) -> None:
    """What the figure is worth: one credential per affiliation, indexes unique, a sample verifies."""
    with Session(node.engine) as db:
        stored = db.exec(select(func.count()).select_from(IssuedCredential)).one()[0]
        distinct = db.exec(select(func.count()).select_from(
            select(IssuedCredential.status_list, IssuedCredential.status_index).distinct().subquery())).one()[0]
        sample = [row.document for row in db.exec(select(IssuedCredential).limit(3)).scalars()]
    assert stored == count == distinct, (stored, count, distinct)
    did_document = keyring.did_doc(node.engine, node.did)
    for document in sample:
        verify_proof(document, loader=node.loader, clock=node.clock, expected_controller=node.did,
                     resolve_key=lambda method: from_did_document(did_document, method))
    print(f"  checked: {stored} rows, {distinct} distinct status indexes, {len(sample)} sampled credentials verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=TARGET_MEMBERS)
    parser.add_argument("--postgres", default=os.environ.get("PASSERELLE_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the issuance step to FILE.<database>")
    args = parser.parse_args()
    if not args.postgres_only:
        run("SQLite", "", args.members, args.profile)
    if args.postgres and not args.sqlite_only:
        with postgres_database(args.postgres) as url:
            run("PostgreSQL", url, args.members, args.profile)


if __name__ == "__main__":
    main()
