"""The authorization endpoint: SECURITY O1-O6, O12(d-f), O13-O15, O20, O22-O23, over real HTTP.

Errors about the client or its redirect URI are a 400 page and never a redirect; errors the client may see are a
302 to the registered URI only, with ``state`` and ``iss``. No code row is created by a refused request.
"""

from __future__ import annotations

import json

import pytest

from credentials.jose import read_unverified
from nodes.storage.oidc_tables import OidcCode
from tests.e2e.browsing import HTML
from tests.movable_clock import MovableClock
from tests.nodes import oidc_flow as flow
from tests.nodes.oidc_flow import REDIRECT, Pkce, auth_params, query_of


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live)
    return live, member, platform, flow.browser(live, member.email)


def assert_error_page(response, live) -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert flow.count(live, OidcCode) == 0


def assert_redirect_error(response, params, error) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["state"] == params["state"]
    assert query["iss"].startswith("http://localhost:")
    assert "code" not in query
    return query


@pytest.mark.parametrize("variant", [
    REDIRECT + "?a=2", REDIRECT + "/", "https://PLATFORM.example/cb", REDIRECT + "#frag", "http://platform.example/cb",
    "https://platform.example@evil.test/cb", "https://platform.example/cb/../evil", "https://platform.example/%63b",
    "https://platform.example/c", "https://platform.example/cbx", "https://evil.test/cb",
])
def test_oidcc_ensure_registered_redirect_uri(setup, variant):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), redirect_uri=variant)
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


def test_oidcc_ensure_redirect_uri_query_mismatch(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, redirect_uris=["https://platform.example/cb?a=1"])
    browser = flow.browser(live, member.email)
    params = auth_params(platform, Pkce(), redirect_uri="https://platform.example/cb?a=2")
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


def test_oidcc_ensure_redirect_uri_query_added(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), redirect_uri=REDIRECT + "?extra=1")
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


def test_registered_redirect_uri_with_query_keeps_it_and_adds_code(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, redirect_uris=["https://platform.example/cb?a=1"])
    browser = flow.browser(live, member.email)
    response = flow.authorize(browser, auth_params(platform, Pkce()))
    assert response.headers["location"].startswith("https://platform.example/cb?a=1&code=")


def test_oidcc_ensure_redirect_uri_in_authorization_request(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, redirect_uris=[REDIRECT, "https://platform.example/other"])
    browser = flow.browser(live, member.email)
    params = auth_params(platform, Pkce(), redirect_uri=None)
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


def test_redirect_uri_may_be_omitted_when_only_one_is_registered(setup):
    _, _, platform, browser = setup
    response = flow.authorize(browser, auth_params(platform, Pkce(), redirect_uri=None))
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])


@pytest.mark.parametrize("client_id", [None, "unknown-client", "dup"])
def test_o3_unknown_missing_or_duplicated_client_id_shows_a_page(setup, client_id):
    live, _, platform, browser = setup
    params = list(auth_params(platform, Pkce()).items())
    params = [(k, v) for k, v in params if k != "client_id"]
    if client_id == "dup":
        params += [("client_id", platform.client_id), ("client_id", platform.client_id)]
    elif client_id is not None:
        params.append(("client_id", client_id))
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


@pytest.mark.parametrize(("name", "values"), [
    ("state", ("a", "b")), ("scope", ("openid", "openid email")), ("code_challenge", (Pkce().challenge,) * 2),
    ("nonce", ("n-1", "n-2")), ("prompt", ("none", "login")), ("max_age", ("3600", "0")),
    ("claims", ('{"id_token": {"email": null}}', "{}")), ("response_mode", ("query", "fragment")),
    ("id_token_hint", ("a", "a")), ("unknown_parameter", ("x", "y")),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_repeated_authorization_parameter_shows_a_page_and_issues_no_code(setup, name, values):
    """RFC 6749 §3.1: a parameter may be sent once, any of them (authlib checks only five names): taking the
    first ``prompt`` or ``nonce`` of two would act on a value the client may not have meant. The page, not a
    redirect: a repeated ``client_id`` or ``redirect_uri`` leaves no URI to redirect to, and all repeats are
    answered alike, as at the token endpoint."""
    live, _, platform, browser = setup
    params = [(k, v) for k, v in auth_params(platform, Pkce()).items() if k != name]
    params += [(name, value) for value in values]
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)


def test_o4_unsupported_response_type_redirects_to_registered_uri_with_state_and_iss(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), response_type="token")
    assert_redirect_error(browser.get("/authorize", params=params), params, "unsupported_response_type")
    assert flow.count(live, OidcCode) == 0


def test_o4_unknown_scope_is_invalid_scope(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), scope="openid wallet:admin")
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_scope")
    assert flow.count(live, OidcCode) == 0


def test_oidcc_response_type_missing(setup):
    _, _, platform, browser = setup
    params = auth_params(platform, Pkce(), response_type=None)
    assert_redirect_error(browser.get("/authorize", params=params), params, "unsupported_response_type")


def test_o6_scope_without_openid_is_invalid_scope_every_time(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), scope="profile email")
    for _ in range(2):
        assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_scope")
    assert flow.count(live, OidcCode) == 0


@pytest.mark.parametrize(("extra", "why"), [
    ({"code_challenge_method": "plain"}, "plain"),
    ({"code_challenge": None, "code_challenge_method": None}, "no challenge"),
    ({"code_challenge_method": None}, "method missing means plain"),
    ({"code_challenge": "a" * 42}, "42 characters"),
    ({"code_challenge": "a+b/c=" + "d" * 37}, "+/= characters"),
])
def test_o12_pkce_is_s256_only_and_required_for_every_client(setup, extra, why):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), **extra)
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")
    assert flow.count(live, OidcCode) == 0, why


def test_o12_confidential_client_without_challenge_is_refused_too(setup):
    _, _, platform, browser = setup
    assert platform.auth_method == "client_secret_basic"
    params = auth_params(platform, None)
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")


@pytest.mark.parametrize(("name", "error"), [("request", "request_not_supported"),
                                             ("request_uri", "request_uri_not_supported")])
def test_o20_request_objects_are_not_supported(setup, name, error):
    live, _, platform, browser = setup
    unsigned = "eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwudGVzdCJ9."
    params = auth_params(platform, Pkce(), **{name: unsigned if name == "request" else "https://evil.test/r"})
    assert_redirect_error(browser.get("/authorize", params=params), params, error)
    assert flow.count(live, OidcCode) == 0


def test_o13_nonce_is_copied_exactly_into_the_id_token(setup):
    live, _, platform, browser = setup
    nonce = "n-0S6_WzA2Mj é"
    tokens = flow.tokens_for(live, browser, platform, nonce=nonce)
    assert id_token_claims(tokens)["nonce"] == nonce


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform)
    assert "nonce" not in id_token_claims(tokens)


def id_token_claims(tokens):
    return read_unverified(tokens["id_token"])[1]


def test_o14_prompt_none_without_session_is_login_required(live_node):
    live = live_node()
    platform = flow.register(live)
    browser = flow.browser(live)
    params = auth_params(platform, Pkce(), prompt="none")
    assert_redirect_error(browser.get("/authorize", params=params, headers=HTML), params, "login_required")


def test_o14_prompt_none_without_consent_is_consent_required(setup):
    live, _, platform, browser = setup
    params = auth_params(platform, Pkce(), prompt="none")
    assert_redirect_error(browser.get("/authorize", params=params, headers=HTML), params, "consent_required")
    assert flow.count(live, OidcCode) == 0


def test_prompt_none_with_session_and_consent_issues_a_code_without_any_page(setup):
    _, _, platform, browser = setup
    flow.authorize(browser, auth_params(platform, Pkce()))
    response = browser.get("/authorize", params=auth_params(platform, Pkce(), prompt="none"), headers=HTML)
    assert response.status_code == 302 and "code" in query_of(response.headers["location"])


def test_prompt_none_with_another_value_is_invalid_request(setup):
    _, _, platform, browser = setup
    params = auth_params(platform, Pkce(), prompt="none login")
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")


def test_without_session_the_member_is_sent_to_sign_in_and_back(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live)
    response = browser.get("/authorize", params=auth_params(platform, Pkce()), headers=HTML)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    signed = flow.sign_in(browser, member.email, flow.PASSWORD, next=query_of(response.headers["location"])["next"])
    assert signed.headers["location"].startswith("/authorize/resume?interaction=")
    page = browser.get(signed.headers["location"], headers=HTML)
    assert 'name="interaction"' in page.text, "the consent page follows"


def test_o15_max_age_forces_reauthentication_and_auth_time_increases(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live, member.email)
    first = id_token_claims(flow.tokens_for(live, browser, platform))
    clock.advance(seconds=2)
    response = browser.get("/authorize", params=auth_params(platform, Pkce(), max_age="1"), headers=HTML)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    again = reauthenticate_and_redeem(live, browser, member, platform, response)
    assert again["auth_time"] > first["auth_time"]


def test_o15_prompt_login_forces_reauthentication(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live, member.email)
    first = id_token_claims(flow.tokens_for(live, browser, platform))
    clock.advance(seconds=5)
    pkce = Pkce()
    response = browser.get("/authorize", params=auth_params(platform, pkce, prompt="login"), headers=HTML)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    again = reauthenticate_and_redeem(live, browser, member, platform, response, pkce)
    assert again["auth_time"] >= first["auth_time"] + 5


def reauthenticate_and_redeem(live, browser, member, platform, response, pkce=None):
    # The test cannot know the verifier of a request it did not build; rebuild with a known one when needed.
    next_path = query_of(response.headers["location"])["next"]
    signed = flow.sign_in(browser, member.email, flow.PASSWORD, next=next_path)
    back = browser.get(signed.headers["location"], headers=HTML)
    code = query_of(flow.continued_to(back))["code"]
    if pkce is None:
        return {"auth_time": flow_auth_time(live, code)}
    return id_token_claims(flow.redeem(live, platform, code, pkce).json())


def flow_auth_time(live, code):
    from sqlmodel import Session, select

    from federation.oidc.models import secret_hash
    from nodes.clock import aware

    with Session(live.node.engine) as db:
        row = db.exec(select(OidcCode).where(OidcCode.code_hash == secret_hash(code))).one()
    return int(aware(row.auth_time).timestamp())


def test_o23_post_to_authorize_is_accepted_and_unknown_parameters_ignored(setup):
    _, _, platform, browser = setup
    flow.authorize(browser, auth_params(platform, Pkce()))
    params = auth_params(platform, Pkce(), unknown_param="x", ui_locales="fr", acr_values="urn:x")
    response = browser.post("/authorize", data=params, headers=HTML)
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert "code" in query and query["state"] == params["state"]


def test_o22_no_cors_on_authorize(setup):
    _, _, platform, browser = setup
    response = browser.get("/authorize", params=auth_params(platform, Pkce()),
                           headers={**HTML, "Origin": "https://evil.test"})
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


def test_response_mode_other_than_query_is_invalid_request(setup):
    _, _, platform, browser = setup
    params = auth_params(platform, Pkce(), response_mode="form_post")
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")


def test_malformed_claims_parameter_is_invalid_request(setup):
    _, _, platform, browser = setup
    params = auth_params(platform, Pkce(), claims="{not json")
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")


def test_after_sign_in_a_remembered_consent_continues_by_a_page_not_a_form_redirect(live_node):
    # Browsers apply the sign-in page's CSP form-action 'self' to the redirects that answer its form: the way
    # back to the platform must not be a redirect in that chain.
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live, member.email)
    flow.authorize(browser, auth_params(platform, Pkce()))
    browser.post("/signout", data={"csrf_token": flow.csrf_of(browser.get("/me", headers=HTML))}, headers=HTML)
    response = browser.get("/authorize", params=auth_params(platform, Pkce()), headers=HTML)
    signed = flow.sign_in(browser, member.email, flow.PASSWORD, next=query_of(response.headers["location"])["next"])
    assert signed.status_code == 303 and signed.headers["location"].startswith("/authorize/resume")
    page = browser.get(signed.headers["location"], headers=HTML)
    assert 'http-equiv="refresh"' in page.text
    assert query_of(flow.continued_to(page))["code"]


BOB = "bob@ecole.example"


def test_oidcc_id_token_hint_of_the_member_signed_in_gives_a_code_without_prompting(setup):
    live, _, platform, browser = setup
    first = flow.tokens_for(live, browser, platform)
    pkce = Pkce()
    params = auth_params(platform, pkce, prompt="none", id_token_hint=first["id_token"])
    response = browser.get("/authorize", params=params)
    assert response.status_code == 302
    again = flow.redeem(live, platform, query_of(response.headers["location"])["code"], pkce).json()
    assert id_token_claims(again)["sub"] == id_token_claims(first)["sub"]


def test_prompt_none_for_another_member_named_by_a_sub_value_is_login_required(setup):
    live, _, platform, browser = setup
    flow.tokens_for(live, browser, platform)  # Alice is signed in and her consent is remembered
    codes = flow.count(live, OidcCode)
    asked = json.dumps({"id_token": {"sub": {"value": "somebody-else", "essential": True}}})
    params = auth_params(platform, Pkce(), prompt="none", claims=asked)
    assert_redirect_error(browser.get("/authorize", params=params), params, "login_required")
    assert flow.count(live, OidcCode) == codes


def test_a_hint_naming_another_member_sends_to_sign_in_and_is_answered_only_for_that_member(setup):
    live, alice, platform, browser = setup
    flow.member_with_password(live, email=BOB)
    bobs = flow.tokens_for(live, flow.browser(live, BOB), platform)["id_token"]
    flow.tokens_for(live, browser, platform)
    codes = flow.count(live, OidcCode)
    pkce = Pkce()
    params = auth_params(platform, pkce, id_token_hint=bobs)
    response = browser.get("/authorize", params=params, headers=HTML)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    next_path = query_of(response.headers["location"])["next"]
    # Alice signs in again: still not the member asked for, so no code, and no loop back to the sign-in page.
    signed = flow.sign_in(browser, alice.email, flow.PASSWORD, next=next_path)
    refused = browser.get(signed.headers["location"], headers=HTML)
    assert query_of(flow.continued_to(refused))["error"] == "login_required"
    assert flow.count(live, OidcCode) == codes
    # Bob signs in: the answer is for him.
    signed = flow.sign_in(browser, BOB, flow.PASSWORD, next=next_path)
    answered = browser.get(signed.headers["location"], headers=HTML)
    code = query_of(flow.continued_to(answered))["code"]
    assert id_token_claims(flow.redeem(live, platform, code, pkce).json())["sub"] == read_unverified(bobs)[1]["sub"]


@pytest.mark.parametrize("hint", ["forged", "other_client", "disagrees"])
def test_an_id_token_hint_not_ours_for_this_client_is_invalid_request(setup, hint):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform)
    extra: dict[str, str] = {"id_token_hint": tokens["id_token"]}
    if hint == "forged":
        header, claims, _ = tokens["id_token"].split(".")
        extra["id_token_hint"] = f"{header}.{claims}.c2lnbmF0dXJl"
    elif hint == "other_client":
        other = flow.register(live, name="Other")
        extra["id_token_hint"] = flow.tokens_for(live, browser, other)["id_token"]
    else:
        extra["claims"] = json.dumps({"id_token": {"sub": {"value": "somebody-else"}}})
    codes = flow.count(live, OidcCode)
    params = auth_params(platform, Pkce(), prompt="none", **extra)
    assert_redirect_error(browser.get("/authorize", params=params), params, "invalid_request")
    assert flow.count(live, OidcCode) == codes


NATIVE = "http://127.0.0.1/callback"


def test_a_native_app_registered_on_a_loopback_ip_may_use_any_port(setup):
    """RFC 8252 §7.3: the app listens on a port the operating system picks at the time of the request."""
    live, _, _, browser = setup
    app = flow.register(live, redirect_uris=[NATIVE], auth_method="none")
    pkce = Pkce()
    asked = "http://127.0.0.1:53127/callback"
    response = flow.authorize(browser, auth_params(app, pkce, redirect_uri=asked))
    assert response.headers["location"].startswith(asked + "?code=")
    code = query_of(response.headers["location"])["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": asked, "code_verifier": pkce.verifier}
    assert flow.token_request(live, app, data).status_code == 200


@pytest.mark.parametrize("asked", ["http://127.0.0.1:53127/callback/", "http://127.0.0.1:53127/callback?x=1",
                                   "http://localhost:53127/callback", "http://[::1]:53127/callback",
                                   "http://127.0.0.1:53127@evil.test/callback", "https://127.0.0.1:53127/callback"])
def test_only_the_port_of_a_native_apps_loopback_uri_may_differ(setup, asked):
    live, _, _, browser = setup
    app = flow.register(live, redirect_uris=[NATIVE], auth_method="none")
    assert_error_page(browser.get("/authorize", params=auth_params(app, Pkce(), redirect_uri=asked), headers=HTML),
                      live)


def test_a_confidential_clients_loopback_uri_is_matched_exactly_port_included(setup):
    live, _, _, browser = setup
    platform = flow.register(live, redirect_uris=[NATIVE])
    params = auth_params(platform, Pkce(), redirect_uri="http://127.0.0.1:53127/callback")
    assert_error_page(browser.get("/authorize", params=params, headers=HTML), live)
