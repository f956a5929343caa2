"""Consent a person can understand, and the "Connected platforms" page: SECURITY O21, receipts, audit."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from nodes.storage.models import AuditEvent
from nodes.storage.oidc_tables import OidcCode, OidcConsent, OidcGrant
from tests.e2e.browsing import HTML, csrf_of
from tests.nodes import oidc_flow as flow
from tests.nodes.oidc_flow import Pkce, auth_params, query_of

EN = {**HTML, "Accept-Language": "en"}


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, name="Alumni Hub", policy_uri="https://platform.example/privacy",
                             logo_uri="https://platform.example/logo.png")
    return live, member, platform, flow.browser(live, member.email)


def consent_page(browser, platform, scope="openid profile email affiliations offline_access", **extra):
    page = browser.get("/authorize", params=auth_params(platform, Pkce(), scope, **extra), headers=EN)
    assert page.status_code == 200, page.text
    return page


def test_consent_page_names_the_platform_its_policy_and_each_claim_in_plain_words(setup):
    _, _, platform, browser = setup
    page = consent_page(browser, platform).text
    assert "Alumni Hub" in page and 'href="https://platform.example/privacy"' in page
    assert 'src="https://platform.example/logo.png"' in page
    for words in ("Your full name", "Your e-mail address", "Your affiliations with this organisation",
                  "Access while you are away"):
        assert words in page


def test_consent_page_is_translated(setup):
    _, _, platform, browser = setup
    page = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email"),
                       headers={**HTML, "Accept-Language": "fr"}).text
    assert "Votre adresse e-mail" in page and "Autoriser" in page


def test_optional_claims_are_unticked_and_essential_ones_ticked_by_default(setup):
    _, _, platform, browser = setup
    claims = json.dumps({"userinfo": {"affiliations": {"essential": True}}})
    page = consent_page(browser, platform, "openid email", claims=claims).text
    boxes = dict(re.findall(r'<input type="checkbox" id="claim-(\w+)"[^>]*?( checked)?>', page))
    assert boxes == {"email": "", "affiliations": " checked"}


def test_o21_consent_page_cannot_be_framed(setup):
    _, _, platform, browser = setup
    page = consent_page(browser, platform)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_o21_consent_post_without_csrf_token_is_403_and_stores_nothing(setup):
    live, _, platform, browser = setup
    page = consent_page(browser, platform)
    interaction = re.search(r'name="interaction" value="([^"]+)"', page.text).group(1)
    response = browser.post("/authorize/consent", data={"interaction": interaction, "decision": "allow"},
                            headers=HTML)
    assert response.status_code == 403
    assert flow.count(live, OidcConsent) == 0 and flow.count(live, OidcCode) == 0


def test_o21_forged_consent_form_from_another_member_is_refused(setup, live_node):
    live, _, platform, browser = setup
    page = consent_page(browser, platform)
    interaction = re.search(r'name="interaction" value="([^"]+)"', page.text).group(1)
    flow.member_with_password(live, email="mallory@ecole.example")
    mallory = flow.browser(live, "mallory@ecole.example")
    own_page = mallory.get("/me/platforms", headers=HTML)
    response = mallory.post("/authorize/consent", headers=HTML, data={
        "csrf_token": csrf_of(own_page), "interaction": interaction, "decision": "allow", "claims": ["email"]})
    assert response.status_code == 400 and "location" not in response.headers
    assert flow.count(live, OidcConsent) == 0 and flow.count(live, OidcCode) == 0


def test_consent_form_cannot_be_answered_twice(setup):
    live, _, platform, browser = setup
    page = consent_page(browser, platform, "openid email")
    assert flow.consent(browser, page, ["email"]).status_code == 302
    again = flow.consent(browser, page, ["email"])
    assert again.status_code == 400
    assert flow.count(live, OidcCode) == 1


def test_o21_denial_redirects_with_access_denied_and_issues_nothing(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), "openid email")
    page = browser.get("/authorize", params=params, headers=HTML)
    response = flow.consent(browser, page, ["email"], decision="deny")
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "access_denied" and query["state"] == params["state"] and query["iss"] == live.url
    assert flow.count(live, OidcCode) == 0 and flow.count(live, OidcConsent) == 0


def test_a_forged_claim_name_in_the_form_is_ignored(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid email", ["email", "affiliations", "password_hash"])
    assert set(flow.userinfo(live, tokens["access_token"]).json()) == {"sub", "email", "email_verified"}


def test_choice_is_remembered_and_new_claims_ask_again(setup):
    live, _, platform, browser = setup
    flow.tokens_for(live, browser, platform, "openid email", ["email"])
    again = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email"), headers=HTML)
    assert again.status_code == 302, "remembered: no page"
    more = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email profile"), headers=HTML)
    assert more.status_code == 200 and 'name="interaction"' in more.text
    forced = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email", prompt="consent"),
                         headers=HTML)
    assert forced.status_code == 200 and 'name="interaction"' in forced.text


def test_connected_platforms_shows_what_each_received_and_revoking_stops_its_tokens(setup):
    live, member, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid email offline_access", ["email", "offline_access"])
    page = browser.get("/me/platforms", headers=EN)
    assert page.status_code == 200 and "Alumni Hub" in page.text and "Your e-mail address" in page.text
    revoked = browser.post(f"/me/platforms/{platform.client_id}/revoke", data={"csrf_token": csrf_of(page)},
                           headers=HTML)
    assert revoked.status_code == 303
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401
    refresh = flow.token_request(live, platform, {"grant_type": "refresh_token",
                                                  "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"
    with Session(live.node.engine) as db:
        events = [(e.action, e.actor) for e in db.exec(select(AuditEvent))]
    assert ("oidc.platform.revoked", member.public_id) in events
    after = browser.get("/me/platforms", headers=EN).text
    assert "(disconnected)" in after
    history = re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]*?)</td>", after)
    lines = [" ".join(line.split()) for line in history]
    assert len(lines) == 3 and lines[0] == "Disconnected by you: its access stopped", "newest first"
    assert lines[1].startswith("Signed in, sent: Your e-mail address") and lines[2].startswith("Consent given:")


def test_each_code_issued_is_logged_as_a_sign_in_with_the_names_of_the_claims_it_releases(setup):
    """The log behind "what each platform received and when": one line per code, written with the code; a refused
    consent issues no code and logs no sign-in."""
    live, member, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email profile", ["email"])
    flow.code_for(browser, platform, Pkce(), "openid email profile")  # remembered: no page
    denied = flow.register(live, name="Refused")
    page = consent_page(browser, denied, "openid email")
    assert "error=access_denied" in flow.consent(browser, page, [], decision="deny").headers["location"]
    with Session(live.node.engine) as db:
        signins = db.exec(select(OidcGrant).where(OidcGrant.kind == "signin")).all()
        codes = db.exec(select(OidcCode)).all()
    assert len(signins) == len(codes) == 2
    released = (member.id, platform.client_id, ["email", "email_verified"])
    assert [(g.member_id, g.client_id, g.claims) for g in signins] == [released] * 2
    assert sorted(g.at for g in signins) == sorted(c.created_at for c in codes)


def test_after_disconnecting_a_platform_its_next_request_asks_for_consent_again(setup):
    """The authorization endpoint reads the client with the member's live consent: a revoked one is no consent."""
    _, _, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email", ["email"])
    remembered = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email"), headers=HTML)
    assert remembered.status_code == 302 and "code" in query_of(remembered.headers["location"])
    flow.disconnect(browser, platform)
    again = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email"), headers=HTML)
    assert again.status_code == 200 and 'name="interaction"' in again.text
    silent = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid email", prompt="none"),
                         headers=HTML)
    assert query_of(silent.headers["location"])["error"] == "consent_required"


def test_a_new_choice_keeps_the_earlier_grants_and_a_disconnected_platform_starts_afresh(setup):
    """One consent per member and platform: a later choice adds to the live one; after a disconnection the next
    choice replaces it (nothing of the revoked one is kept) and makes it live again."""
    live, member, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email", ["email"])
    flow.code_for(browser, platform, Pkce(), "openid profile", ["name"])

    def consents():
        with Session(live.node.engine) as db:
            return [(set(c.granted), set(c.decided), c.revoked_at) for c in db.exec(select(OidcConsent))]

    [(granted, decided, revoked_at)] = consents()
    assert {"email", "name"} <= granted and {"email", "name", "given_name"} <= decided and revoked_at is None
    flow.disconnect(browser, platform)
    flow.code_for(browser, platform, Pkce(), "openid profile", [])
    [(granted, decided, revoked_at)] = consents()
    assert "email" not in granted and "name" not in granted and "email" not in decided and revoked_at is None


def test_revoking_needs_the_csrf_token(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform)
    response = browser.post(f"/me/platforms/{platform.client_id}/revoke", headers=HTML)
    assert response.status_code == 403
    assert flow.userinfo(live, tokens["access_token"]).status_code == 200


def test_consent_receipt_can_be_downloaded_by_its_member_only(setup):
    live, member, platform, browser = setup
    flow.tokens_for(live, browser, platform, "openid email profile", ["email"])
    page = browser.get("/me/platforms", headers=HTML).text
    link = re.search(r'href="(/me/platforms/receipts/[0-9a-f-]+\.json)"', page).group(1)
    response = browser.get(link)
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    receipt = response.json()
    assert receipt["recipient"] == {"name": "Alumni Hub", "privacyPolicy": "https://platform.example/privacy"}
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["piiCategory"] == ["email"] and purpose["refused"] == ["family_name", "given_name", "name"]
    assert receipt["piiPrincipalId"] != member.public_id
    flow.member_with_password(live, email="bob@ecole.example")
    assert flow.browser(live, "bob@ecole.example").get(link).status_code == 404
    assert flow.browser(live).get(link, headers=HTML).status_code == 303, "anonymous: sign in first"


def test_platforms_page_needs_a_signed_in_member(live_node):
    live = live_node()
    response = flow.browser(live).get("/me/platforms", headers=HTML)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_consent_page_policy_lets_only_the_platform_logo_origin_in(setup):
    _, _, platform, browser = setup
    policy = consent_page(browser, platform).headers["content-security-policy"]
    assert "img-src 'self' https://platform.example data:" in policy
    assert "form-action 'self' https://platform.example;" in policy, "the consent answer redirects there"
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy


def _refuse_token_updates(engine) -> None:
    """A real fault inside the database: any update of a token row fails (a trigger; no project code replaced)."""
    with engine.begin() as db:
        if engine.dialect.name == "sqlite":
            db.execute(text("CREATE TRIGGER refuse_token_update BEFORE UPDATE ON oidc_token "
                            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))
        else:
            db.execute(text("CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"))
            db.execute(text("CREATE TRIGGER refuse_token_update BEFORE UPDATE ON oidc_token "
                            "FOR EACH ROW EXECUTE FUNCTION refuse_update()"))


def test_a_disconnection_that_cannot_revoke_the_tokens_leaves_the_platform_connected(setup):
    """Consent and tokens are revoked in one transaction: a failure midway leaves no consent-less live token (which
    a later consent would bring back to life), and the member can try again."""
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid email", ["email"])
    _refuse_token_updates(live.node.engine)
    assert flow.disconnect(browser, platform).status_code >= 500
    with Session(live.node.engine) as db:
        consent = db.exec(select(OidcConsent).where(OidcConsent.client_id == platform.client_id)).one()
        actions = [e.action for e in db.exec(select(AuditEvent))]
    assert consent.revoked_at is None and "oidc.platform.revoked" not in actions
    assert flow.count(live, OidcGrant) == 2, "the consent and the sign-in: no line says it was disconnected"
    assert flow.userinfo(live, tokens["access_token"]).status_code == 200
    _allow_token_updates(live.node.engine)
    assert flow.disconnect(browser, platform).status_code == 303
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401


def _allow_token_updates(engine) -> None:
    with engine.begin() as db:
        db.execute(text("DROP TRIGGER refuse_token_update" + ("" if engine.dialect.name == "sqlite"
                                                                else " ON oidc_token")))


def test_refresh_tokens_a_withdrawal_could_not_revoke_stay_dead_when_access_while_away_is_allowed_again(setup):
    """Unticking "access while you are away" saves the choice, then revokes the refresh tokens. When the revocation
    fails, those tokens are dead only because the consent no longer allows them. Ticking the box again revokes
    what is left before the choice is saved, so the old refresh token does not come back to life."""
    live, _, platform, browser = setup
    scope = "openid offline_access"
    tokens = flow.tokens_for(live, browser, platform, scope, ["offline_access"])
    _refuse_token_updates(live.node.engine)
    withdrawn = flow.authorize(browser, auth_params(platform, Pkce(), scope, prompt="consent"), [])
    assert withdrawn.status_code >= 500
    _allow_token_updates(live.node.engine)
    flow.code_for(browser, platform, Pkce(), scope, ["offline_access"], prompt="consent")
    refreshed = flow.refresh(live, platform, tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401


def boxes(page):
    """The consent page's checkboxes: item name → whether it is ticked."""
    found = re.findall(r'<input type="checkbox" id="claim-(\w+)"[^>]*?( checked)?>', page.text)
    return {name: bool(checked) for name, checked in found}


def answer_as_shown(browser, page):
    """Click "Allow" without touching a box: the ticks the page opened with."""
    return flow.consent(browser, page, [name for name, ticked in boxes(page).items() if ticked])


def test_consent_asked_again_ticks_what_the_member_already_allowed_and_allowing_keeps_it(setup):
    """prompt=consent shows the page again: the answer replaces the earlier choice for the items it shows, so a page
    opening with the allowed e-mail unticked would withdraw it from a member who only clicked "Allow"."""
    live, _, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email", ["email"])
    page = consent_page(browser, platform, "openid email", prompt="consent")
    assert boxes(page) == {"email": True}
    pkce = Pkce()
    page = browser.get("/authorize", params=auth_params(platform, pkce, "openid email", prompt="consent"),
                       headers=EN)
    code = query_of(answer_as_shown(browser, page).headers["location"])["code"]
    tokens = flow.redeem(live, platform, code, pkce).json()
    assert flow.userinfo(live, tokens["access_token"]).json()["email"] == "alice@ecole.example"


def test_a_wider_request_ticks_the_earlier_grants_among_its_items_and_only_those(setup):
    """New claims asked: the remembered ones are ticked, the new voluntary ones are not (privacy by default), and
    allowing the page as shown keeps the e-mail granted and grants nothing new."""
    live, _, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email", ["email"])
    page = consent_page(browser, platform, "openid email profile")
    assert boxes(page) == {"name": False, "given_name": False, "family_name": False, "email": True}
    assert answer_as_shown(browser, page).status_code == 302
    with Session(live.node.engine) as db:
        [granted] = [set(c.granted) for c in db.exec(select(OidcConsent))]
    assert granted == {"email"}


def test_the_affiliations_item_says_its_signed_credentials_show_the_full_name(setup):
    """Ticking only "affiliations" hands out the affiliation credentials, whose credentialSubject.name is the member's
    full name: the item must say so in both languages, since "Your full name" may be left unticked."""
    _, _, platform, browser = setup
    english = consent_page(browser, platform, "openid profile affiliations").text
    assert "signed credentials that prove them, which show your full name" in english
    french = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid profile affiliations"),
                         headers={**HTML, "Accept-Language": "fr"}).text
    assert "attestations signées qui les prouvent, où figure votre nom complet" in french


def test_receipt_of_an_affiliations_grant_lists_the_name_as_shared_in_the_credentials_not_as_refused(setup):
    """Rule: ``refused`` lists only what the platform does not receive at all; the ``credentials`` entry names each
    granted item that hands out signed credentials and what they show. The name unticked beside "affiliations" still
    reaches the platform inside the credentials, so it is listed there and not as refused, with the first and last
    names the full name is made of."""
    from nodes.credentials_service import ensure_member_credentials

    live, member, platform, browser = setup
    ensure_member_credentials(flow.node_context(live), member.id, actor="test")
    tokens = flow.tokens_for(live, browser, platform, "openid profile affiliations", ["affiliations"])
    answer = flow.userinfo(live, tokens["access_token"]).json()
    assert "name" not in answer
    assert {c["credentialSubject"]["name"] for c in answer["affiliation_credentials"]} == {"Alice Martin"}
    page = browser.get("/me/platforms", headers=HTML).text
    link = re.search(r'href="(/me/platforms/receipts/[0-9a-f-]+\.json)"', page).group(1)
    purpose = browser.get(link).json()["services"][0]["purposes"][0]
    assert purpose["piiCategory"] == ["affiliations"]
    assert purpose["refused"] == [], "the full name in the credentials is the given and the family name"
    shown = ["family_name", "given_name", "name"]
    assert purpose["credentials"] == {"affiliations": {"shows": shown, "sameForEveryPlatform": True}}


def test_the_page_says_credentials_are_the_same_for_every_platform_when_affiliations_are_asked(setup):
    """Every platform receives byte-identical credentials (same id, same status-list index, the name) under its own
    pairwise ``sub``, so platforms that receive them can recognise the member: the page says so when the
    affiliations are asked, and only then."""
    from nodes.credentials_service import ensure_member_credentials

    live, member, platform, browser = setup
    warning = "Your signed credentials are the same for every platform you share them with"
    assert warning in consent_page(browser, platform, "openid affiliations").text
    assert warning not in consent_page(browser, platform, "openid profile email").text
    french = browser.get("/authorize", params=auth_params(platform, Pkce(), "openid affiliations"),
                         headers={**HTML, "Accept-Language": "fr"}).text
    assert "Vos attestations signées sont les mêmes pour toutes les plateformes" in french
    ensure_member_credentials(flow.node_context(live), member.id, actor="test")
    other = flow.register(live, ["https://jobs.example/cb"], name="Job Board")  # another sector
    answers = [flow.userinfo(live, flow.tokens_for(live, browser, p, "openid affiliations", ["affiliations"])
                             ["access_token"]).json() for p in (platform, other)]
    assert answers[0]["sub"] != answers[1]["sub"]
    assert answers[0]["affiliation_credentials"] == answers[1]["affiliation_credentials"]


def test_the_identifier_sentence_follows_the_platforms_subject_type(setup):
    """A pairwise platform gets a ``sub`` of its own; one registered with ``subject_type=public`` gets the member's
    public id, the same for every such platform: the page may not promise it an identifier of its own."""
    live, member, platform, browser = setup
    public = flow.register(live, name="Directory", subject_type="public")
    page = consent_page(browser, public, "openid email").text
    assert "unique to it" not in page
    assert "account identifier, which is the same for every platform that receives it" in page
    french = browser.get("/authorize", params=auth_params(public, Pkce(), "openid email"),
                         headers={**HTML, "Accept-Language": "fr"}).text
    assert "le même pour toutes les plateformes qui le reçoivent" in french and "qui lui est propre" not in french
    tokens = flow.tokens_for(live, browser, public, "openid email", ["email"])
    assert flow.userinfo(live, tokens["access_token"]).json()["sub"] == member.public_id
    pairwise = consent_page(browser, platform, "openid email").text
    assert "an identifier that is unique to it: by itself" in pairwise and "account identifier" not in pairwise
