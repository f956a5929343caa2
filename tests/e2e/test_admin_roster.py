"""Importing the roster from the admin page over real HTTP: report, line-numbered errors, CSRF, size cap."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, func, select

from nodes.storage.models import Affiliation, AuditEvent, Invitation, Member
from tests.e2e.admin_browsing import admin_client, form_token, upload
from tests.e2e.browsing import outbox_messages, sign_in
from tests.seed import PASSWORD, seed_member

HEADER = b"email,given_name,family_name,programme,degree,class_year,groups\n"
ADA = b"ada@ecole.example,Ada,Lovelace,Informatique,Master,2015,Club robotique\n"
LEA = "lea@ecole.example,Léa,Dubois,Génie civil,Licence,2012,\n".encode()
BAD = b"not-an-address,Bad,Row,Info,Master,2015,\n"


def count(live, model, *where) -> int:
    with Session(live.node.engine) as db:
        return int(db.exec(select(func.count()).select_from(model).where(*where)).one())


def roster_members(live) -> int:
    return count(live, Member, col(Member.is_admin).is_(False))


def test_admin_imports_a_roster_sees_the_report_and_new_members_are_invited(live_node):
    live = live_node()
    client, admin_id = admin_client(live)
    answer = upload(client, HEADER + ADA + LEA, send_invitations="1")
    assert answer.status_code == 200
    assert "Roster imported: 2 rows, 2 created, 0 updated, 0 unchanged, 0 skipped." in answer.text
    assert "2 invitations sent." in answer.text
    assert roster_members(live) == 2 and count(live, Affiliation) == 2
    assert {m["To"].addresses[0].addr_spec for m in outbox_messages(live.node.settings.data_dir)} == {
        "ada@ecole.example", "lea@ecole.example"}
    with Session(live.node.engine) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()
    assert (event.actor, event.target, event.detail["created"]) == (admin_id, "roster.csv", 2)
    again = upload(client, HEADER + ADA + LEA, send_invitations="1")
    assert "0 created, 0 updated, 2 unchanged" in again.text and "invitations sent" not in again.text
    assert roster_members(live) == 2 and count(live, Invitation) == 2


def test_import_without_the_invite_box_sends_no_invitation(live_node):
    live = live_node()
    client, _ = admin_client(live)
    assert upload(client, HEADER + ADA).status_code == 200
    assert roster_members(live) == 1 and count(live, Invitation) == 0


def test_invalid_roster_shows_line_numbered_errors_and_stores_nothing(live_node):
    live = live_node()
    client, _ = admin_client(live)
    answer = upload(client, HEADER + ADA + BAD + LEA + LEA, send_invitations="1")
    assert answer.status_code == 400
    assert "nothing was stored" in answer.text
    assert "line 3: &#8220;not-an-address&#8221; is not a valid e-mail address" in answer.text.replace(
        "\u201c", "&#8220;").replace("\u201d", "&#8221;")
    assert "line 5: the same row as line 4" in answer.text
    assert roster_members(live) == 0 and count(live, Invitation) == 0
    assert count(live, AuditEvent, AuditEvent.action == "roster.import.refused") == 1


def test_missing_column_is_named_on_the_page(live_node):
    live = live_node()
    client, _ = admin_client(live)
    answer = upload(client, b"email,given_name,family_name,programme,degree\nx@y.example,X,Y,Z,W\n")
    assert answer.status_code == 400 and "missing column: class_year" in answer.text


def test_skip_invalid_box_imports_the_valid_rows_and_lists_the_skipped_ones(live_node):
    live = live_node()
    client, _ = admin_client(live)
    answer = upload(client, HEADER + ADA + BAD + LEA, skip_invalid="1")
    assert answer.status_code == 200
    assert "2 created, 0 updated, 0 unchanged, 1 skipped" in answer.text
    assert "These rows were skipped:" in answer.text and "line 3:" in answer.text
    assert roster_members(live) == 2


def test_latin1_roster_is_refused_naming_the_line_and_byte(live_node):
    live = live_node()
    client, _ = admin_client(live)
    answer = upload(client, (HEADER.decode() + "lea@ecole.example,Léa,Dubois,Info,Licence,2012,\n").encode("latin-1"))
    assert answer.status_code == 400
    assert "line 2: the file is not UTF-8 text: byte 84" in answer.text and "0xE9" in answer.text
    assert roster_members(live) == 0


def test_roster_over_the_size_cap_is_refused_with_a_readable_message(live_node):
    live = live_node(roster_max_bytes=2048)
    client, _ = admin_client(live)
    answer = upload(client, HEADER + ADA * 40)
    assert answer.status_code == 413
    assert "the file is larger than 2 KB, the largest roster this node accepts" in answer.text
    assert roster_members(live) == 0


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_roster_post_without_a_valid_csrf_token_is_403_and_stores_nothing(live_node, token):
    live = live_node()
    client, _ = admin_client(live)
    form_token(client, "/admin/roster")
    answer = upload(client, HEADER + ADA + LEA, token=token, send_invitations="1")
    assert answer.status_code == 403
    assert roster_members(live) == 0 and count(live, Invitation) == 0
    assert count(live, AuditEvent, col(AuditEvent.action).like("roster.%")) == 0


def test_member_who_is_not_an_admin_cannot_import(live_node):
    live = live_node()
    seed_member(live.node.engine, email="alice@ecole.example", password=PASSWORD)
    with live.client() as client:
        assert sign_in(client, "alice@ecole.example", PASSWORD).status_code == 303
        answer = upload(client, HEADER + ADA, token=form_token(client, "/me"))
    assert answer.status_code == 403
    assert roster_members(live) == 1  # alice herself, nobody imported
