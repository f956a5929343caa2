"""Suspend, reinstate, revoke: one bit, one version, one audit event with the reason (SECURITY S8, X2, X12)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from credentials.status import decode_bitstring
from nodes.credential_states import StateProblem, change_state
from nodes.issuance import issue_affiliations
from nodes.status_high_water import repair
from nodes.status_lists import StatusListRollback, rebuild
from nodes.status_publish import published_list
from nodes.storage.credential_tables import IssuedCredential, StatusListBits
from nodes.storage.db import make_engine, transaction
from nodes.storage.models import AuditEvent
from nodes.verification import verify_credential_for
from tests.nodes.credential_support import context, list_bits, seed_alumni


def _issued(make_node, count=1):
    node = context(make_node())
    report = issue_affiliations(node, seed_alumni(node, count), actor="test")
    return node, report.issued


def _set_bits(node, purpose):
    bits = decode_bitstring(list_bits(node, purpose).encoded_list)
    return {i for i in range(bits.entries) if bits.get(i)}


def test_s8_revocation_flips_exactly_one_bit_and_bumps_the_list_version(make_node):
    node, rows = _issued(make_node, 3)
    target = rows[1]
    before = list_bits(node, "revocation").version
    change_state(node, target.id, "revoke", "degree withdrawn by the jury", actor="admin1")
    assert _set_bits(node, "revocation") == {target.status_index}
    assert _set_bits(node, "suspension") == set()
    assert list_bits(node, "revocation").version == before + 1
    assert list_bits(node, "suspension").version == 1  # untouched list, untouched version


def test_suspension_then_reinstatement_sets_then_clears_the_suspension_bit(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "suspend", "identity check pending", actor="admin1")
    assert _set_bits(node, "suspension") == {row.status_index}
    assert verify_credential_for(node, row.document).status == "suspended"
    change_state(node, row.id, "reinstate", "identity confirmed", actor="admin1")
    assert _set_bits(node, "suspension") == set()
    assert verify_credential_for(node, row.document).verified


def test_revoking_a_suspended_credential_moves_its_bit_to_the_revocation_list(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "suspend", "pending", actor="admin1")
    change_state(node, row.id, "revoke", "fraud", actor="admin1")
    assert _set_bits(node, "revocation") == {row.status_index} and _set_bits(node, "suspension") == set()
    assert verify_credential_for(node, row.document).status == "revoked"


def test_revocation_is_final(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "revoke", "fraud", actor="admin1")
    for action in ("reinstate", "suspend", "revoke"):
        with pytest.raises(StateProblem) as refused:
            change_state(node, row.id, action, "try again", actor="admin1")
        assert refused.value.status == 409


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "bad\x00reason"])
def test_a_change_needs_a_readable_reason_and_stores_nothing_without_one(make_node, reason):
    node, [row] = _issued(make_node)
    with pytest.raises(StateProblem) as refused:
        change_state(node, row.id, "revoke", reason, actor="admin1")
    assert refused.value.status == 400 and _set_bits(node, "revocation") == set()


def test_unknown_credential_is_404(make_node):
    node, _ = _issued(make_node)
    with pytest.raises(StateProblem) as refused:
        change_state(node, "urn:uuid:nothing", "revoke", "why", actor="admin1")
    assert refused.value.status == 404


def test_every_change_is_audited_with_its_reason_and_actor(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "suspend", "identity check pending", actor="admin1", ip="192.0.2.1")
    with Session(node.engine) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.action == "credential.suspend")).one()
    assert (event.actor, event.target, event.ip) == ("admin1", row.id, "192.0.2.1")
    assert event.detail == {"reason": "identity check pending", "before": "active", "after": "suspended"}


def test_x2_an_acknowledged_revocation_is_in_the_database_for_any_other_connection(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "revoke", "fraud", actor="admin1")
    other = make_engine(node.settings.resolved_database_url)
    try:
        with Session(other) as db:
            assert db.get(IssuedCredential, row.id).state == "revoked"
    finally:
        other.dispose()


def test_x2_status_lists_are_rebuilt_from_the_credentials_states(make_node):
    node, [row] = _issued(make_node)
    with transaction(node.engine) as db:  # a state written without its bit (as an operator's manual fix would)
        stored = db.get(IssuedCredential, row.id)
        stored.state = "revoked"
        db.add(stored)
    version = list_bits(node, "revocation").version
    assert rebuild(node) == 1
    assert _set_bits(node, "revocation") == {row.status_index}
    assert list_bits(node, "revocation").version == version + 1
    assert rebuild(node) == 0


def _restore_older_backup(node, row):
    """What restoring a backup taken before the revocation does: the state, the bit and the version go back."""
    with transaction(node.engine) as db:
        stored = db.exec(select(StatusListBits).where(StatusListBits.purpose == "revocation")).one()
        stored.version, stored.encoded_list = 1, list_bits(node, "suspension").encoded_list
        db.add(stored)
        credential = db.get(IssuedCredential, row.id)
        credential.state, credential.state_reason = "active", None
        db.add(credential)


def test_x12_a_status_list_older_than_the_one_published_is_not_published(make_node, caplog):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "revoke", "fraud", actor="admin1")
    published = published_list(node, "revocation", 1)
    assert published is not None and published.version == 2
    _restore_older_backup(node, row)
    assert rebuild(node) == 0  # start-up leaves it alone: it is the operator's to decide
    with pytest.raises(StatusListRollback):
        published_list(node, "revocation", 1)
    assert "went backwards" in caplog.text
    assert verify_credential_for(node, row.document).check("status").outcome == "unknown"


def test_x12_repair_restores_the_revocations_the_backup_had_forgotten_and_publishes_a_newer_version(make_node):
    node, [row] = _issued(make_node)
    change_state(node, row.id, "revoke", "fraud", actor="admin1")
    published_list(node, "revocation", 1)
    _restore_older_backup(node, row)
    report = repair(node, actor="operator")
    assert report.lists == ["revocation/1"] and report.changes == [(row.id, "active", "revoked")]
    again = published_list(node, "revocation", 1)
    assert again is not None and again.version == 3
    assert verify_credential_for(node, row.document).status == "revoked"
    with Session(node.engine) as db:
        assert db.exec(select(AuditEvent).where(AuditEvent.action == "credential.restore")).one().target == row.id
