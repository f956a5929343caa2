"""Issuance on a node: status index allocation in the issuance transaction (SECURITY B4, S8, X5), on SQLite and
PostgreSQL, and what a failed issuance leaves behind (nothing)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from credentials.status import MIN_ENTRIES
from nodes.issuance import IssuanceProblem, Pending, issue, issue_affiliations, new_credential_id
from nodes.status_lists import CAPACITY, LIST_ENTRIES
from nodes.storage.credential_tables import IssuedCredential, StatusList
from nodes.storage.db import transaction
from nodes.verification import verify_credential_for
from tests.nodes.credential_support import allocated, context, issued_count, rows, seed_alumni

V2 = "https://www.w3.org/ns/credentials/v2"


def _plain(node, **extra):
    """A minimal VC 2.0 credential in the node's name (the VC 2.0 context defines every term used)."""
    credential_id = new_credential_id()

    def build(*, credential_status):
        return {"@context": [V2], "id": credential_id, "type": ["VerifiableCredential"], "issuer": node.did,
                "validFrom": "2025-01-01T00:00:00Z", "credentialSubject": {"id": "did:example:holder", **extra},
                "credentialStatus": credential_status}

    return Pending(credential_id, "VerifiableCredential", build)


def test_issued_affiliation_credential_carries_both_status_entries_and_verifies(make_node):
    node = context(make_node())
    [affiliation] = seed_alumni(node, 1)
    report = issue_affiliations(node, [affiliation], actor="test")
    [row] = report.issued
    status = row.document["credentialStatus"]
    assert [s["statusPurpose"] for s in status] == ["revocation", "suspension"]
    assert {s["statusListIndex"] for s in status} == {str(row.status_index)}
    assert status[0]["statusListCredential"] == f"{node.settings.base_url}/status/revocation/{row.status_list}"
    assert row.document["proof"]["verificationMethod"].startswith(node.did + "#")
    assert verify_credential_for(node, row.document).verified


def test_s8_status_lists_hold_131072_entries_and_indexes_are_random_not_sequential(make_node):
    node = context(make_node())
    issue(node, [_plain(node) for _ in range(40)], actor="test")
    indexes = [row.status_index for row in rows(node)]
    with Session(node.engine) as db:
        assert db.get(StatusList, 1).entries == LIST_ENTRIES >= MIN_ENTRIES
    assert len(set(indexes)) == 40 and all(0 <= i < LIST_ENTRIES for i in indexes)
    assert sorted(indexes) != list(range(min(indexes), min(indexes) + 40))
    assert max(indexes) - min(indexes) > LIST_ENTRIES // 4  # spread over the list, not clustered


def test_b4_the_unique_constraint_refuses_an_index_used_twice(make_node):
    node = context(make_node())
    [row] = issue(node, [_plain(node)], actor="test")
    with pytest.raises(IntegrityError), transaction(node.engine) as db:
        db.add(IssuedCredential(id=new_credential_id(), credential_type="x", document={}, status_list=1,
                                status_index=row.status_index, created_at=datetime.now(UTC), created_by="test"))


def test_b4_a_draw_that_lands_on_a_used_index_is_drawn_again(make_node):
    node = context(make_node())
    [first] = issue(node, [_plain(node)], actor="test", below=lambda n: 1234)
    draws = iter([1234, 1234, 1234, 999])
    [second] = issue(node, [_plain(node)], actor="test", below=lambda n: next(draws, 77))
    assert (first.status_index, second.status_index) == (1234, 999)


def test_b4_concurrent_issuance_never_uses_an_index_twice(make_node):
    node = context(make_node())
    issued, failures = [], []

    def worker():
        try:
            for _ in range(5):
                issued.extend(issue(node, [_plain(node)], actor="test"))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    indexes = [(row.status_list, row.status_index) for row in rows(node)]
    assert len(indexes) == len(set(indexes)) == 30 == len(issued)
    assert allocated(node) == 30  # the counters agree with the rows


def test_a_full_list_opens_the_next_one(make_node):
    node = context(make_node())
    issue(node, [_plain(node)], actor="test")
    with transaction(node.engine) as db:
        full = db.get(StatusList, 1)
        full.allocated = CAPACITY
        db.add(full)
    [row] = issue(node, [_plain(node)], actor="test")
    assert row.status_list == 2
    assert row.document["credentialStatus"][0]["statusListCredential"].endswith("/status/revocation/2")


def test_x5_a_credential_that_cannot_be_signed_stores_nothing_and_reserves_no_index(make_node):
    node = context(make_node())
    issue(node, [_plain(node)], actor="test")
    before = (issued_count(node), allocated(node))
    with pytest.raises(IssuanceProblem) as refused:
        issue(node, [_plain(node), _plain(node, undefinedTerm="not in any context")], actor="test")
    assert refused.value.status == 400 and refused.value.code == "PARSING_ERROR"
    assert (issued_count(node), allocated(node)) == before


def test_bulk_issuance_reports_an_affiliation_it_cannot_state_and_issues_the_others(make_node):
    node = context(make_node())
    ids = seed_alumni(node, 3)
    from nodes.storage.models import Affiliation

    with transaction(node.engine) as db:
        broken = db.get(Affiliation, ids[1])
        broken.role = "Data engineer"  # a company field on a school affiliation
        db.add(broken)
    report = issue_affiliations(node, ids, actor="test")
    assert len(report.issued) == 2 and [i for i, _ in report.skipped] == [ids[1]]
    assert "cannot carry role" in report.skipped[0][1] and allocated(node) == 2


def test_a_roster_is_signed_by_worker_processes_in_a_pipeline_of_batches(make_node, monkeypatch):
    """Above the pool threshold, batches go to a process pool while the next ones are drawn: every index is still
    distinct, the counters agree with the rows, a bad affiliation is skipped without an index, and the credentials
    signed in the workers verify here."""
    import nodes.issuance as issuance
    from nodes.signing_pool import PoolSigner

    node = context(make_node())
    ids = seed_alumni(node, 25)
    with transaction(node.engine) as db:
        from nodes.storage.models import Affiliation

        broken = db.get(Affiliation, ids[7])
        broken.role = "Data engineer"
        db.add(broken)
    pools = []

    class CountedPool(PoolSigner):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(issuance, "POOL_THRESHOLD", 10)
    monkeypatch.setattr(issuance, "BATCH", 4)  # seven batches, several in flight at once
    monkeypatch.setattr(issuance, "pool_size", lambda: 2)
    monkeypatch.setattr(issuance, "PoolSigner", CountedPool)
    progress = []
    report = issue_affiliations(node, ids, actor="test", progress=lambda done, total: progress.append(done))
    assert len(pools) == 1
    assert len(report.issued) == 24 and [i for i, _ in report.skipped] == [ids[7]]
    assert "cannot carry role" in report.skipped[0][1]
    indexes = [(row.status_list, row.status_index) for row in rows(node)]
    assert len(indexes) == len(set(indexes)) == 24 == allocated(node)
    assert progress[-1] == 25 and progress == sorted(progress)
    assert all(verify_credential_for(node, row.document).verified for row in report.issued[::6])


def test_b4_a_roster_batch_whose_index_another_issuer_recorded_first_is_drawn_and_signed_again(make_node,
                                                                                               monkeypatch):
    import nodes.issuance as issuance

    node = context(make_node())
    ids = seed_alumni(node, 12)
    monkeypatch.setattr(issuance, "BATCH", 4)
    monkeypatch.setattr(issuance, "pool_size", lambda: 1)  # in-process signer, same pipeline
    sequence = iter(range(100, 10_000))
    interloper = []

    def meanwhile(done, total):
        if not interloper:  # the roster's third batch is drawn (indexes 108..111) but not yet recorded
            interloper.extend(issue(node, [_plain(node)], actor="other", below=lambda n: 109))

    roster = issuance._Roster(node, "test", None, False, meanwhile, issuance.in_process_signer(node),
                              lambda n: next(sequence), depth=2)
    report = roster.run(ids)
    assert interloper[0].status_index == 109
    assert len(report.issued) == 12 and not report.skipped
    mine = {row.status_index for row in report.issued}
    assert 109 not in mine and len(mine) == 12
    assert issued_count(node) == allocated(node) == 13
