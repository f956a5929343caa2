"""RP-initiated logout without open redirects (SECURITY W3), and id_token_hint checks (unsigned hints refused)."""

from __future__ import annotations

import base64
import json

import pytest
from sqlmodel import Session, select

from nodes.storage.models import AuditEvent
from tests.e2e.browsing import HTML, csrf_of
from tests.movable_clock import MovableClock
from tests.nodes import oidc_flow as flow

BYE = "https://platform.example/bye"


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, post_logout_redirect_uris=[BYE])
    browser = flow.browser(live, member.email)
    tokens = flow.tokens_for(live, browser, platform)
    return live, platform, browser, tokens


def signed_in(browser) -> bool:
    return browser.get("/me", headers=HTML).status_code == 200


def test_logout_with_valid_hint_and_registered_uri_ends_the_session_and_returns_state(setup):
    _, _, browser, tokens = setup
    response = browser.get("/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE,
                                              "state": "s1"})
    assert response.status_code == 303 and response.headers["location"] == BYE + "?state=s1"
    assert not signed_in(browser)


def test_logout_is_audited_with_the_platform_that_asked_for_it(setup):
    live, platform, browser, tokens = setup
    browser.get("/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE})
    with Session(live.node.engine) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.signout")).one()
    assert event.detail == {"via": "oidc_logout", "client": platform.client_id}


def test_hint_from_an_earlier_session_asks_the_member_before_signing_out(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live, post_logout_redirect_uris=[BYE])
    earlier = flow.tokens_for(live, flow.browser(live, member.email), platform)
    clock.advance(minutes=5)
    browser = flow.browser(live, member.email)
    response = browser.get("/logout", params={"id_token_hint": earlier["id_token"],
                                              "post_logout_redirect_uri": BYE}, headers=HTML)
    assert response.status_code == 200 and "location" not in response.headers
    assert signed_in(browser), "an ID token of another session must not end this one unasked"


def test_hint_for_another_member_asks_before_signing_out(setup):
    live, _, _, tokens = setup
    flow.member_with_password(live, email="bob@ecole.example")
    bob = flow.browser(live, "bob@ecole.example")
    response = bob.get("/logout", params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE},
                       headers=HTML)
    assert response.status_code == 200 and "location" not in response.headers
    assert signed_in(bob)


@pytest.mark.parametrize("target", ["https://evil.test/bye", "//evil.test", "/\\evil.test", "javascript:alert(1)",
                                    BYE + "/extra", BYE + "?x=1"])
def test_w3_logout_never_redirects_to_an_unregistered_uri(setup, target):
    _, _, browser, tokens = setup
    response = browser.get("/logout", params={"id_token_hint": tokens["id_token"],
                                              "post_logout_redirect_uri": target}, headers=HTML)
    assert response.status_code == 400 and "location" not in response.headers
    assert signed_in(browser), "a refused request signs nobody out"


@pytest.mark.parametrize("repeated", ["id_token_hint", "post_logout_redirect_uri", "state"])
def test_a_logout_request_that_repeats_a_parameter_is_refused_and_signs_nobody_out(setup, repeated):
    _, _, browser, tokens = setup
    params = [("id_token_hint", tokens["id_token"]), ("post_logout_redirect_uri", BYE), ("state", "s1")]
    params.append((repeated, dict(params)[repeated]))
    response = browser.get("/logout", params=params, headers=HTML)
    assert response.status_code == 400 and "location" not in response.headers
    assert signed_in(browser)


def test_logout_without_hint_asks_for_confirmation_and_does_not_redirect(setup):
    _, platform, browser, _ = setup
    page = browser.get("/logout", params={"client_id": platform.client_id, "post_logout_redirect_uri": BYE},
                       headers=HTML)
    assert page.status_code == 200 and "location" not in page.headers
    assert signed_in(browser)
    done = browser.post("/logout/confirm", data={"csrf_token": csrf_of(page)}, headers=HTML)
    assert done.status_code == 200 and not signed_in(browser)


def test_logout_confirmation_needs_the_csrf_token(setup):
    _, _, browser, _ = setup
    assert browser.post("/logout/confirm", headers=HTML).status_code == 403
    assert signed_in(browser)


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_hs256_id_token_hint_is_refused(setup, alg):
    _, _, browser, tokens = setup
    claims = tokens["id_token"].split(".")[1]
    forged = f"{_part({'alg': alg})}.{claims}." + ("" if alg == "none" else "c2lnbmF0dXJl")
    response = browser.get("/logout", params={"id_token_hint": forged, "post_logout_redirect_uri": BYE},
                           headers=HTML)
    assert response.status_code == 400 and "location" not in response.headers
    assert signed_in(browser)


def test_hint_for_another_client_than_client_id_is_refused(setup):
    live, _, browser, tokens = setup
    other = flow.register(live, name="Other", post_logout_redirect_uris=[BYE])
    response = browser.get("/logout", params={"id_token_hint": tokens["id_token"], "client_id": other.client_id,
                                              "post_logout_redirect_uri": BYE}, headers=HTML)
    assert response.status_code == 400 and "location" not in response.headers
