"""The admin pages over real HTTP: who may see them, members search and invitations, the audit log."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, col, select

from nodes.roster.apply import import_roster
from nodes.storage.models import AuditEvent, Invitation, Member
from tests.e2e.admin_browsing import admin_client, form_token, node_context
from tests.e2e.browsing import HTML, csrf_of, outbox_messages, sign_in
from tests.seed import PASSWORD, seed_member

PAGES = ["/admin", "/admin/roster", "/admin/members", "/admin/audit"]
HEADER = "email,given_name,family_name,programme,degree,class_year,groups\n"


def load_roster(live, *rows: str) -> None:
    report = import_roster(node_context(live), (HEADER + "".join(r + "\n" for r in rows)).encode(), actor="cli")
    assert report.imported, report.errors


def member(live, email: str) -> Member:
    with Session(live.node.engine) as db:
        return db.exec(select(Member).where(Member.email_key == email)).one()


def test_member_who_is_not_an_admin_gets_403_on_every_admin_page(live_node):
    live = live_node()
    seed_member(live.node.engine, email="alice@ecole.example", password=PASSWORD)
    target = seed_member(live.node.engine, email="bob@ecole.example")
    with live.client() as client:
        assert sign_in(client, "alice@ecole.example", PASSWORD).status_code == 303
        for path in PAGES:
            assert client.get(path, headers=HTML).status_code == 403, path
            assert client.get(path).status_code == 403, path
        token = csrf_of(client.get("/me", headers=HTML))
        invite = client.post(f"/admin/members/{target.public_id}/invite", data={"csrf_token": token}, headers=HTML)
    assert invite.status_code == 403
    with Session(live.node.engine) as db:
        assert db.exec(select(Invitation)).all() == []


def test_anonymous_visitor_is_sent_to_sign_in(live_node):
    live = live_node()
    with live.client() as client:
        for path in PAGES:
            page = client.get(path, headers=HTML)
            assert page.status_code == 303 and page.headers["location"] == f"/signin?next={path}"
            assert client.get(path).status_code == 401


def test_overview_counts_members_and_links_every_admin_page(live_node):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,",
                "ada@ecole.example,Ada,Lovelace,Management,MBA,2021,",
                "lea@ecole.example,Léa,Dubois,Info,Licence,2012,")
    page = client.get("/admin", headers=HTML)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert re.search(r'id="count-members">3<', page.text) and re.search(r'id="count-affiliations">3<', page.text)
    assert re.search(r'id="count-admins">1<', page.text) and re.search(r'id="count-claimed">1<', page.text)
    assert "Last roster import" in page.text and "3 rows" in page.text
    for path in PAGES[1:]:
        assert f'href="{path}"' in page.text


def test_members_search_matches_every_word_in_names_and_emails(live_node):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Informatique,Master,2015,Club robotique",
                "lea@ecole.example,Léa,Dubois,Génie civil,Licence,2012,",
                "grace@navy.example,Grace,Brewster,Maths,PhD,1934,")

    def names(q: str) -> list[str]:
        page = client.get("/admin/members", params={"q": q}, headers=HTML)
        assert page.status_code == 200
        return re.findall(r'<span class="hint">([^<]+@[^<]+)</span>', page.text)
    assert names("lovelace") == ["ada@ecole.example"]
    assert names("ecole.example ada") == ["ada@ecole.example"]
    assert names("ECOLE") == ["lea@ecole.example", "admin@ecole.example", "ada@ecole.example"]  # by family name
    assert names("navy") == ["grace@navy.example"]
    page = client.get("/admin/members", params={"q": "lovelace"}, headers=HTML)
    assert "Informatique, Master (2015) [Club robotique]" in page.text and "Not invited" in page.text


@pytest.mark.parametrize("q", ["%", "_", "\\", "'; DROP TABLE member; --", "\" OR 1=1 --"])
def test_b1_search_meta_characters_are_searched_for_literally(live_node, q):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    page = client.get("/admin/members", params={"q": q}, headers=HTML)
    assert page.status_code == 200 and "No member matches." in page.text
    assert member(live, "ada@ecole.example").given_name == "Ada"


def test_members_page_is_paginated(live_node):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, *[f"p{i:03}@ecole.example,P{i:03},Family,Info,Master,2015," for i in range(120)])
    first = client.get("/admin/members", headers=HTML)
    assert "121 members" in first.text and "Page 1 of 3" in first.text and first.text.count("/invite\"") == 50
    following = re.search(r'href="(\?[^"]+)" rel="next"', first.text)
    assert following and following.group(1) == "?q=&amp;page=2"
    assert "Page 2 of 3" in client.get("/admin/members?q=&page=2", headers=HTML).text
    last = client.get("/admin/members", params={"page": 3}, headers=HTML)
    assert "Page 3 of 3" in last.text and last.text.count("/invite\"") == 21
    assert client.get("/admin/members", params={"page": 0}, headers=HTML).status_code == 400


def test_admin_sends_an_invitation_again_and_only_the_newest_link_works(live_node):
    live = live_node()
    client, admin_id = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    ada = member(live, "ada@ecole.example")
    for attempt in (1, 2):
        token = form_token(client, "/admin/members")
        answer = client.post(f"/admin/members/{ada.public_id}/invite",
                             data={"csrf_token": token, "back": "/admin/members?q=ada&page=1"}, headers=HTML)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/admin/members?q=ada&page=1&invited={ada.public_id}"
        assert len(outbox_messages(live.node.settings.data_dir)) == attempt
    page = client.get(answer.headers["location"], headers=HTML)
    assert "Invitation sent." in page.text and "Invited (link valid until" in page.text
    with Session(live.node.engine) as db:
        invitations = list(db.exec(select(Invitation).order_by(col(Invitation.id))))
        events = list(db.exec(select(AuditEvent).where(AuditEvent.action == "member.invited")))
    now = node_context(live).clock()
    assert [i.expires_at.replace(tzinfo=now.tzinfo) > now for i in invitations] == [False, True]
    assert [(e.actor, e.target) for e in events] == [(admin_id, ada.public_id)] * 2


def test_invitation_post_without_csrf_is_403_and_sends_nothing(live_node):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    answer = client.post(f"/admin/members/{member(live, 'ada@ecole.example').public_id}/invite", headers=HTML)
    assert answer.status_code == 403
    with Session(live.node.engine) as db:
        assert db.exec(select(Invitation)).all() == []


def test_invitation_for_an_unknown_member_is_404(live_node):
    live = live_node()
    client, _ = admin_client(live)
    token = form_token(client, "/admin/members")
    assert client.post("/admin/members/nobody/invite", data={"csrf_token": token}, headers=HTML).status_code == 404


def test_an_open_redirect_through_back_is_refused(live_node):
    live = live_node()
    client, _ = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    token = form_token(client, "/admin/members")
    answer = client.post(f"/admin/members/{member(live, 'ada@ecole.example').public_id}/invite",
                         data={"csrf_token": token, "back": "//evil.example/phish"}, headers=HTML)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/members?invited=")


def test_audit_log_lists_newest_first_and_filters_by_action(live_node):
    live = live_node()
    client, admin_id = admin_client(live)
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    load_roster(live, "ada@ecole.example,Ada,Lovelace,Info,Master,2015,")
    page = client.get("/admin/audit", headers=HTML)
    assert page.status_code == 200
    actions = re.findall(r"<td>([a-z]+(?:\.[a-z]+)+)</td>", page.text)
    assert actions == ["roster.import", "roster.import", "auth.signin.ok", "admin.create"]
    assert '<option value="roster.import">' in page.text
    filtered = client.get("/admin/audit", params={"action": "admin.create"}, headers=HTML)
    assert re.findall(r"<td>([a-z]+(?:\.[a-z]+)+)</td>", filtered.text) == ["admin.create"]
    assert admin_id in filtered.text and "1 events, newest first" in filtered.text


def test_admin_pages_speak_french(live_node):
    live = live_node()
    client, _ = admin_client(live, lang="fr")
    assert "Importer la liste des membres" in client.get("/admin/roster", headers=HTML).text
    assert "Journal d’audit" in client.get("/admin/audit", headers=HTML).text
    answer = client.post("/admin/roster", data={"csrf_token": form_token(client, "/admin/roster")},
                         files={"file": ("r.csv", b"email\nx@y.example\n", "text/csv")}, headers=HTML)
    assert answer.status_code == 400 and "ligne 1 : colonne manquante : given_name" in answer.text
