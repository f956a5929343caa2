"""Invitations: single-use expiring claim links, stored as hashes, delivered by SMTP or to the outbox."""

from __future__ import annotations

import hashlib
import stat
import threading
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlmodel import Session, select

from nodes import invitations
from nodes.context import NodeContext
from nodes.invitations import InvitationDeliveryError, InvitationUnusable, UnknownMembers, issue_invitations
from nodes.members import verify_password
from nodes.settings import SmtpSettings
from nodes.storage.models import AuditEvent, Invitation, Member, WebSession
from tests.e2e.browsing import claim_link_in, outbox_messages
from tests.movable_clock import MovableClock
from tests.nodes.smtp_sink import smtp_sink
from tests.seed import seed_member

NEW_PASSWORD = "a long enough passphrase"


def context(node, clock=None, **settings) -> NodeContext:
    values = node.settings.model_copy(update=settings) if settings else node.settings
    return NodeContext(settings=values, engine=node.engine, secret=node.secret, clock=clock or MovableClock())


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def invitations_of(node, member_id: int) -> list[Invitation]:
    with Session(node.engine) as db:
        return list(db.exec(select(Invitation).where(Invitation.member_id == member_id).order_by(Invitation.id)))


def test_invitation_stores_only_the_token_hash_and_writes_a_bilingual_eml(make_node):
    node = make_node()
    member = seed_member(node.engine)
    [(member_id, link)] = issue_invitations(context(node), [member.id])
    assert member_id == member.id
    assert link.startswith(node.settings.base_url + "/claim/")
    token = token_of(link)
    [row] = invitations_of(node, member.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row)
    [message] = outbox_messages(node.settings.data_dir)
    assert message["To"] == "Alice Martin <alice@ecole.example>"
    assert "Votre compte" in message["Subject"] and "Your" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert claim_link_in(message) == link
    assert "Bonjour Alice" in text and "Hello Alice" in text


def test_outbox_file_is_private_and_no_temporary_file_is_left(make_node):
    node = make_node()
    member = seed_member(node.engine)
    issue_invitations(context(node), [member.id])
    files = list(node.settings.outbox_dir.iterdir())
    assert [f.suffix for f in files] == [".eml"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_new_invitation_invalidates_the_previous_unused_one(make_node):
    node = make_node()
    clock = MovableClock()
    member = seed_member(node.engine)
    [(_, first)] = issue_invitations(context(node, clock), [member.id])
    clock.advance(seconds=1)
    [(_, second)] = issue_invitations(context(node, clock), [member.id])
    ctx = context(node, clock)
    assert invitations.invitation_state(invitations.find_invitation(ctx, token_of(first))[0], clock()) == "expired"
    assert invitations.invitation_state(invitations.find_invitation(ctx, token_of(second))[0], clock()) == "valid"
    with pytest.raises(InvitationUnusable) as refused:
        invitations.claim(ctx, token_of(first), NEW_PASSWORD)
    assert refused.value.state == "expired"


def test_invitation_expires_after_the_configured_ttl(make_node):
    node = make_node(invitation_ttl_hours=2)
    clock = MovableClock()
    member = seed_member(node.engine)
    ctx = context(node, clock)
    [(_, link)] = issue_invitations(ctx, [member.id])
    row, _ = invitations.find_invitation(ctx, token_of(link))
    clock.advance(hours=1, minutes=59)
    assert invitations.invitation_state(row, clock()) == "valid"
    clock.advance(minutes=1)
    assert invitations.invitation_state(row, clock()) == "expired"
    with pytest.raises(InvitationUnusable):
        invitations.claim(ctx, token_of(link), NEW_PASSWORD)


def test_unknown_member_id_refuses_the_whole_batch_and_stores_nothing(make_node):
    node = make_node()
    member = seed_member(node.engine)
    with pytest.raises(UnknownMembers) as refused:
        issue_invitations(context(node), [member.id, 9999])
    assert refused.value.missing == [9999]
    assert invitations_of(node, member.id) == []
    assert not node.settings.outbox_dir.exists() or not list(node.settings.outbox_dir.iterdir())


def test_name_with_a_line_break_cannot_inject_mail_headers_and_nothing_is_stored(make_node):
    node = make_node()
    honest = seed_member(node.engine)
    forged = seed_member(node.engine, email="eve@ecole.example", given_name="Eve\r\nBcc: spy@evil.example")
    with pytest.raises(ValueError):
        issue_invitations(context(node), [honest.id, forged.id])
    assert invitations_of(node, honest.id) == [] and invitations_of(node, forged.id) == []


def test_member_invited_audit_event_names_the_member_but_not_the_token(make_node):
    node = make_node()
    member = seed_member(node.engine)
    [(_, link)] = issue_invitations(context(node), [member.id], actor="cli")
    with Session(node.engine) as db:
        [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "member.invited")).all()
    assert event.target == member.public_id and event.actor == "cli"
    assert token_of(link) not in repr(event) and event.detail["via"] == "outbox"


def test_invitation_is_sent_by_smtp_when_a_host_is_set(make_node):
    node = make_node()
    member = seed_member(node.engine)
    with smtp_sink() as sink:
        smtp = SmtpSettings(host="127.0.0.1", port=sink.server_address[1], starttls=False)
        [(_, link)] = issue_invitations(context(node, smtp=smtp), [member.id])
    [raw] = sink.messages
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert claim_link_in(message) == link
    assert not node.settings.outbox_dir.exists()


def test_smtp_refuses_to_send_in_the_clear_when_the_server_offers_no_starttls(make_node):
    node = make_node()
    member = seed_member(node.engine)
    with smtp_sink(offer_starttls=False) as sink:
        smtp = SmtpSettings(host="127.0.0.1", port=sink.server_address[1], starttls=True)
        with pytest.raises(InvitationDeliveryError) as failed:
            issue_invitations(context(node, smtp=smtp), [member.id])
    assert sink.messages == []
    assert failed.value.failed == [member.id] and failed.value.delivered == []


def test_claim_sets_the_password_and_claimed_at_and_ends_other_sessions(make_node):
    node = make_node()
    clock = MovableClock()
    member = seed_member(node.engine)
    ctx = context(node, clock)
    [(_, link)] = issue_invitations(ctx, [member.id])
    with Session(node.engine) as db:
        db.add(WebSession(token_hash="0" * 64, member_id=member.id, csrf_token="x", created_at=clock(),
                          expires_at=clock() + timedelta(hours=1)))
        db.commit()
    claimed = invitations.claim(ctx, token_of(link), NEW_PASSWORD, ip="127.0.0.1")
    with Session(node.engine) as db:
        stored = db.get(Member, member.id)
        assert stored.claimed_at is not None and stored.password_hash.startswith("$argon2id$")
        assert db.exec(select(WebSession).where(WebSession.member_id == member.id)).all() == []
        [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "member.claimed")).all()
    assert claimed.id == member.id and event.target == member.public_id


def test_claim_link_cannot_be_used_twice_even_by_two_concurrent_requests(make_node):
    node = make_node()
    member = seed_member(node.engine)
    ctx = context(node)
    [(_, link)] = issue_invitations(ctx, [member.id])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            invitations.claim(ctx, token_of(link), NEW_PASSWORD)
            outcomes.append("claimed")
        except InvitationUnusable as exc:
            outcomes.append(exc.state)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed", "used", "used", "used"]
    with Session(node.engine) as db:
        claims = db.exec(select(AuditEvent).where(AuditEvent.action == "member.claimed")).all()
    assert len(claims) == 1


def test_invitation_to_a_member_who_already_claimed_sets_a_new_password_and_keeps_the_first_claim_time(make_node):
    node = make_node()
    clock = MovableClock()
    member = seed_member(node.engine)
    ctx = context(node, clock)
    [(_, first)] = issue_invitations(ctx, [member.id])
    invitations.claim(ctx, token_of(first), NEW_PASSWORD)
    first_claim = invitations_of(node, member.id)[0].used_at
    clock.advance(days=3)
    [(_, second)] = issue_invitations(ctx, [member.id])
    invitations.claim(ctx, token_of(second), "another long passphrase")
    with Session(node.engine) as db:
        stored = db.get(Member, member.id)
    assert stored.claimed_at == first_claim
    assert verify_password(stored.password_hash, "another long passphrase")
