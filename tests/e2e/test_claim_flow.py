"""Claiming an account from an invitation link, over real HTTP against a running node."""

from __future__ import annotations

from sqlmodel import Session, select

from nodes.storage.models import AuditEvent, Invitation, Member
from tests.e2e.browsing import HTML, csrf_of, invite, sign_in
from tests.movable_clock import MovableClock
from tests.seed import SCHOOL_AFFILIATION, seed_member

PASSWORD = "une phrase assez longue"


def path_of(link: str) -> str:
    return "/claim/" + link.rsplit("/", 1)[1]


def claim(client, link: str, password: str = PASSWORD, confirm: str | None = None):
    page = client.get(path_of(link), headers=HTML)
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page), "password": password, "password_confirm": confirm or password}
    return client.post(path_of(link), data=form, headers=HTML)


def stored_member(live, member_id: int) -> Member:
    with Session(live.node.engine) as db:
        return db.get(Member, member_id)


def actions(live) -> list[str]:
    with Session(live.node.engine) as db:
        return [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id))]


def test_member_claims_account_from_invitation_and_lands_signed_in_on_their_page(live_node):
    live = live_node()
    member = seed_member(live.node.engine, affiliations=[SCHOOL_AFFILIATION])
    link = invite(live, member.id)
    with live.client() as client:
        page = client.get(path_of(link), headers=HTML)
        assert 'autocomplete="new-password"' in page.text and "alice@ecole.example" in page.text
        done = client.post(path_of(link), headers=HTML, data={
            "csrf_token": csrf_of(page), "password": PASSWORD, "password_confirm": PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/me"
        me = client.get("/me", headers=HTML)
    assert me.status_code == 200 and "Génie civil" in me.text
    stored = stored_member(live, member.id)
    assert stored.claimed_at is not None and stored.password_hash.startswith("$argon2id$")
    assert actions(live) == ["member.invited", "member.claimed", "auth.signin.ok"]
    with live.client() as other:
        assert sign_in(other, "alice@ecole.example", PASSWORD).status_code == 303


def test_claim_link_cannot_be_used_twice(live_node):
    live = live_node()
    member = seed_member(live.node.engine)
    link = invite(live, member.id)
    with live.client() as client:
        assert claim(client, link).status_code == 303
    with live.client() as client:
        again = client.get(path_of(link), headers=HTML)
    assert again.status_code == 410
    assert "already been used" in again.text or "déjà été utilisé" in again.text
    assert 'href="/signin"' in again.text


def test_expired_invitation_shows_a_readable_410_page_and_stores_nothing(live_node):
    clock = MovableClock()
    live = live_node(clock=clock, invitation_ttl_hours=24)
    member = seed_member(live.node.engine)
    link = invite(live, member.id, clock=clock)
    with live.client(headers={"Accept-Language": "en"}) as client:
        assert client.get(path_of(link), headers=HTML).status_code == 200
        clock.advance(hours=24, seconds=1)
        refused = client.get(path_of(link), headers=HTML)
        fresh = client.get("/signin", headers=HTML)  # a valid CSRF token of the current session
        posted = client.post(path_of(link), headers=HTML, data={
            "csrf_token": csrf_of(fresh), "password": PASSWORD, "password_confirm": PASSWORD})
    assert refused.status_code == 410 and "has expired" in refused.text
    assert posted.status_code == 410 and "has expired" in posted.text
    assert stored_member(live, member.id).password_hash is None
    assert "member.claimed" not in actions(live)


def test_newer_invitation_replaces_the_previous_link(live_node):
    live = live_node()
    member = seed_member(live.node.engine)
    first = invite(live, member.id)
    second = invite(live, member.id)
    with live.client() as client:
        assert client.get(path_of(first), headers=HTML).status_code == 410
        assert claim(client, second).status_code == 303


def test_unknown_or_malformed_claim_link_answers_400_not_500(live_node):
    live = live_node()
    with live.client(headers={"Accept-Language": "fr"}) as client:
        unknown = client.get("/claim/" + "A" * 43, headers=HTML)
        huge = client.get("/claim/" + "x" * 5000, headers=HTML)
        odd = client.get("/claim/%00%27%22", headers=HTML)
    for answer in (unknown, huge, odd):
        assert answer.status_code == 400, answer.text
        assert "n’est pas valide" in answer.text and "Traceback" not in answer.text


def test_claim_refuses_a_short_password_and_ties_the_error_to_the_field(live_node):
    live = live_node()
    member = seed_member(live.node.engine)
    link = invite(live, member.id)
    with live.client(headers={"Accept-Language": "en"}) as client:
        short = claim(client, link, password="short")
        mismatch = claim(client, link, password=PASSWORD, confirm=PASSWORD + "!")
    assert short.status_code == 400
    assert 'id="password-error"' in short.text and 'aria-describedby="password-hint password-error"' in short.text
    assert "at least 12 characters" in short.text and 'aria-invalid="true"' in short.text
    assert mismatch.status_code == 400 and 'aria-describedby="password_confirm-error"' in mismatch.text
    assert stored_member(live, member.id).password_hash is None


def test_claim_with_a_forged_or_missing_csrf_token_is_refused_and_stores_nothing(live_node):
    live = live_node()
    member = seed_member(live.node.engine)
    link = invite(live, member.id)
    with live.client() as client:
        client.get(path_of(link), headers=HTML)
        forged = client.post(path_of(link), headers=HTML, data={
            "csrf_token": "forged", "password": PASSWORD, "password_confirm": PASSWORD})
        missing = client.post(path_of(link), headers=HTML, data={"password": PASSWORD, "password_confirm": PASSWORD})
    with live.client() as stranger:  # no session at all, as from another site
        cross_site = stranger.post(path_of(link), headers=HTML, data={
            "csrf_token": "", "password": PASSWORD, "password_confirm": PASSWORD})
    for answer in (forged, missing, cross_site):
        assert answer.status_code == 403 and "Ce formulaire a expiré" in answer.text
    assert stored_member(live, member.id).password_hash is None
    with Session(live.node.engine) as db:
        assert db.exec(select(Invitation)).one().used_at is None
    assert "member.claimed" not in actions(live)
