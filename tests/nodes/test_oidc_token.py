"""The token endpoint: SECURITY O7, O9-O12, O16, O17, O22, B3 and X4, over real HTTP, on SQLite or PostgreSQL."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time

import pytest
from sqlmodel import Session, select

from credentials import keys
from credentials.jose import read_unverified, sign_jwt
from nodes.oidc.clients import disable_client
from nodes.storage.oidc_tables import OidcClient, OidcCode, OidcToken
from tests.conftest import database_kind
from tests.movable_clock import MovableClock
from tests.nodes import oidc_flow as flow
from tests.nodes.oidc_flow import Pkce


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live)
    return live, member, platform, flow.browser(live, member.email)


def assert_oauth_error(response, status, error):
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    assert "access_token" not in response.text


def test_token_response_is_not_cached_and_carries_bearer_tokens(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    response = flow.redeem(live, platform, flow.code_for(browser, platform, pkce), pkce)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and "refresh_token" not in body


def test_oidcc_codereuse_revokes_first_tokens(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid email offline_access", ["email", "offline_access"])
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid email offline_access")
    first = flow.redeem(live, platform, code, pkce).json()
    assert flow.userinfo(live, first["access_token"]).status_code == 200
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 400, "invalid_grant")
    assert flow.userinfo(live, first["access_token"]).status_code == 401
    assert_oauth_error(flow.refresh(live, platform, first["refresh_token"]), 400, "invalid_grant")
    assert flow.userinfo(live, tokens["access_token"]).status_code == 200, "another grant is untouched"


def test_oidcc_codereuse_30seconds(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live, member.email)
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    first = flow.redeem(live, platform, code, pkce).json()
    clock.advance(seconds=30)
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 400, "invalid_grant")
    assert flow.userinfo(live, first["access_token"]).status_code == 401


def test_o9_expired_code_is_invalid_grant(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live)
    browser = flow.browser(live, member.email)
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    clock.advance(seconds=61)
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 400, "invalid_grant")
    assert flow.count(live, OidcToken) == 0


def test_o9_code_lives_at_most_sixty_seconds(setup):
    live, _, platform, browser = setup
    flow.code_for(browser, platform, Pkce())
    with Session(live.node.engine) as db:
        row = db.exec(select(OidcCode)).one()
    assert (row.expires_at - row.created_at).total_seconds() <= 60


@pytest.mark.parametrize("tamper", ["flip", "truncate", "empty", "huge"])
def test_o9_tampered_code_is_invalid_grant(setup, tamper):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    bad = {"flip": code[:-1] + ("A" if code[-1] != "A" else "B"), "truncate": code[:20], "empty": "",
           "huge": code * 100}[tamper]
    response = flow.redeem(live, platform, bad, pkce)
    assert response.status_code == 400 and response.json()["error"] in ("invalid_grant", "invalid_request")
    assert flow.count(live, OidcToken) == 0
    assert flow.redeem(live, platform, code, pkce).status_code == 200, "the genuine code is not spent"


def test_o10_code_of_client_a_redeemed_by_client_b_is_invalid_and_spent(setup):
    live, _, platform_a, browser = setup
    platform_b = flow.register(live, name="Other", redirect_uris=[flow.REDIRECT])
    pkce = Pkce()
    code = flow.code_for(browser, platform_a, pkce)
    assert_oauth_error(flow.redeem(live, platform_b, code, pkce), 400, "invalid_grant")
    assert_oauth_error(flow.redeem(live, platform_a, code, pkce), 400, "invalid_grant")
    assert flow.count(live, OidcToken) == 0


def test_o11_token_request_redirect_uri_must_equal_the_authorization_one(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.REDIRECT + "/other",
            "code_verifier": pkce.verifier}
    assert_oauth_error(flow.token_request(live, platform, data), 400, "invalid_grant")


def test_o12a_challenge_sent_but_verifier_missing_is_invalid_request(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri}
    assert_oauth_error(flow.token_request(live, platform, data), 400, "invalid_request")
    assert flow.count(live, OidcToken) == 0


def test_o12b_wrong_verifier_is_invalid_grant(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    assert_oauth_error(flow.redeem(live, platform, code, Pkce()), 400, "invalid_grant")
    assert flow.count(live, OidcToken) == 0


def test_o12c_verifier_without_challenge_cannot_happen_because_no_code_is_issued_without_one(setup):
    live, _, platform, browser = setup
    response = browser.get("/authorize", params=flow.auth_params(platform, None))
    assert flow.query_of(response.headers["location"])["error"] == "invalid_request"
    assert flow.count(live, OidcCode) == 0


def test_valid_s256_verifier_succeeds_for_a_public_client(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, auth_method="none")
    tokens = flow.tokens_for(live, flow.browser(live, member.email), platform)
    assert tokens["access_token"]


def test_o16_wrong_secret_is_401_invalid_client_with_www_authenticate(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    wrong = flow.Platform(platform.client_id, "wrong-" + (platform.secret or ""), platform.redirect_uri,
                          platform.auth_method)
    response = flow.redeem(live, wrong, code, pkce)
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
    assert flow.redeem(live, platform, code, pkce).status_code == 200, "a failed client auth does not spend the code"


def test_o16_basic_and_post_both_sent_is_invalid_request(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri,
            "code_verifier": pkce.verifier, "client_id": platform.client_id, "client_secret": platform.secret}
    with live.client() as http:
        response = http.post("/token", data=data, auth=(platform.client_id, platform.secret))
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("method", ["post", "none"])
def test_o16_method_other_than_registered_or_missing_is_invalid_client(setup, method):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    response = flow.redeem(live, platform, code, pkce, auth=method)
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"
    assert flow.count(live, OidcToken) == 0


def test_o16_w6_repeated_wrong_secrets_lock_the_client_out(setup):
    """... at the address they came from: the right secret from there is refused too (it is not even checked)."""
    live, _, platform, browser = setup
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    flow.lock_out(live, platform, data, address=flow.PLATFORM_ADDRESS)
    locked = flow.token_request(live, platform, data, address=flow.PLATFORM_ADDRESS)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_w6_a_locked_out_client_cannot_use_its_own_refresh_token(setup):
    """The lockout is read with the refresh token (one read for both): the token's own client, from the address
    locked out, is refused too, and the token is not spent."""
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    flow.lock_out(live, platform, data, address=flow.PLATFORM_ADDRESS)
    locked = flow.token_request(live, platform, data, address=flow.PLATFORM_ADDRESS)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert flow.count(live, OidcToken) == 1, "no token was issued while locked"
    with Session(flow.node_context(live).engine) as db:
        assert db.exec(select(OidcToken)).one().refresh_used_at is None, "the refresh token was not spent"


def test_w6_a_locked_out_client_cannot_redeem_its_code_and_the_code_is_not_spent(setup):
    """A code is read with its client's lockout (one read for the authentication and the grant): locked out at
    its address, the code's own client is refused before the code is looked at."""
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    flow.lock_out(live, platform, {"grant_type": "refresh_token", "refresh_token": "x"}, address=flow.PLATFORM_ADDRESS)
    locked = flow.redeem(live, platform, code, pkce, address=flow.PLATFORM_ADDRESS)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert flow.count(live, OidcToken) == 0
    with Session(flow.node_context(live).engine) as db:
        assert db.exec(select(OidcCode)).one().used_at is None, "the code was not spent"


def test_w6_wrong_secrets_from_one_address_do_not_lock_the_client_out_from_another(setup):
    """A client id is public (it is in every authorization URL): anyone can send it with wrong secrets. The lock
    they earn holds at their address only; the platform, elsewhere, redeems its code and uses its refresh token
    (each read with the lockout at the platform's address) as if nothing happened (RFC 9700 §4.16-style denial of
    service, SECURITY W6)."""
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    attack = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    flow.lock_out(live, platform, attack, address=flow.OTHER_ADDRESS)
    assert flow.redeem(live, platform, code, pkce, address=flow.PLATFORM_ADDRESS).status_code == 200
    refreshed = flow.token_request(live, platform, attack, address=flow.PLATFORM_ADDRESS)
    assert refreshed.status_code == 200, refreshed.text
    with flow.http_from(live, flow.PLATFORM_ADDRESS) as http:  # introspection authenticates the client too
        answer = http.post("/introspect", data={"token": refreshed.json()["access_token"]},
                           auth=(platform.client_id, platform.secret))
    assert answer.status_code == 200 and answer.json()["active"] is True
    still = flow.token_request(live, platform, attack, address=flow.OTHER_ADDRESS)
    assert still.status_code == 429 and int(still.headers["retry-after"]) > 0, "the attacker's address stays locked"


def test_w6_the_lock_answers_429_with_the_time_it_has_left_and_doubles(live_node):
    """From the address locked out, even the right secret gets 429 with ``Retry-After`` saying how long the lock
    has left; once it has passed, one more failure locks the address again, for twice as long."""
    clock = MovableClock()
    live = live_node(clock=clock)
    platform = flow.register(live)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    flow.lock_out(live, platform, data, address=flow.OTHER_ADDRESS)
    locked = flow.token_request(live, platform, data, address=flow.OTHER_ADDRESS)
    assert locked.status_code == 429 and locked.json()["error"] == "invalid_client"
    assert locked.headers["retry-after"] == "60" and locked.headers["cache-control"] == "no-store"
    clock.advance(seconds=45)
    assert flow.token_request(live, platform, data, address=flow.OTHER_ADDRESS).headers["retry-after"] == "15"
    clock.advance(seconds=16)
    wrong = flow.Platform(platform.client_id, "nope", platform.redirect_uri, platform.auth_method)
    assert flow.token_request(live, wrong, data, address=flow.OTHER_ADDRESS).status_code == 401
    again = flow.token_request(live, platform, data, address=flow.OTHER_ADDRESS)
    assert again.status_code == 429 and again.headers["retry-after"] == "120"


def test_w6_a_success_clears_its_address_counter_and_only_that_one(setup):
    """Nine failures from each of two addresses, then the right secret from one: that address starts again from
    zero (as a member's sign-in clears the account's counter), the other keeps its nine and is locked at its
    tenth."""
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    wrong = flow.Platform(platform.client_id, "nope", platform.redirect_uri, platform.auth_method)
    for address in (flow.PLATFORM_ADDRESS, flow.OTHER_ADDRESS):
        assert {flow.token_request(live, wrong, data, address=address).status_code for _ in range(9)} == {401}
    assert flow.token_request(live, platform, data, address=flow.PLATFORM_ADDRESS).status_code == 200
    assert flow.failures(live, platform, flow.PLATFORM_ADDRESS) == 0
    assert flow.failures(live, platform, flow.OTHER_ADDRESS) == 9
    assert {flow.token_request(live, wrong, data, address=flow.PLATFORM_ADDRESS).status_code
            for _ in range(9)} == {401}, "nine more failures do not lock the address that succeeded"
    assert flow.token_request(live, wrong, data, address=flow.OTHER_ADDRESS).status_code == 401
    assert flow.token_request(live, wrong, data, address=flow.OTHER_ADDRESS).status_code == 429


def test_w6_an_untrusted_peer_cannot_name_the_platform_address_in_x_forwarded_for(setup):
    """Only a trusted proxy's ``X-Forwarded-For`` is believed (uvicorn's ``forwarded_allow_ips``, 127.0.0.1 here):
    an attacker who names the platform's address there locks out its own address, not the platform's."""
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    with flow.http_from(live, flow.OTHER_ADDRESS) as http:
        statuses = [http.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                              auth=(platform.client_id, "nope"), headers={"X-Forwarded-For": "203.0.113.9"}
                              ).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    assert flow.failures(live, platform, flow.OTHER_ADDRESS) == 10
    with flow.http_from(live, flow.PLATFORM_ADDRESS) as proxy:  # a trusted proxy forwarding the platform's request
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri,
                "code_verifier": pkce.verifier}
        answer = proxy.post("/token", data=data, auth=(platform.client_id, platform.secret),
                            headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("repeated", ["code", "code_verifier", "redirect_uri", "grant_type", "client_secret",
                                      "same_code_twice", "unknown_parameter"])
def test_a_token_request_with_a_repeated_parameter_is_invalid_request_and_spends_nothing(setup, repeated):
    """RFC 6749 §3.2, §5.2: a parameter included more than once is invalid_request. Taking the first value would
    let ``code=<valid>&code=<anything>`` through, and two readers of one request could disagree on it."""
    live, _, _, browser = setup
    platform = flow.register(live, name="Posting platform", auth_method="client_secret_post")
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    pairs = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", platform.redirect_uri),
             ("code_verifier", pkce.verifier), ("client_id", platform.client_id),
             ("client_secret", platform.secret or "")]
    again = {"code": "garbage", "code_verifier": Pkce().verifier, "redirect_uri": flow.REDIRECT + "/other",
             "grant_type": "refresh_token", "client_secret": "wrong", "same_code_twice": code,
             "unknown_parameter": "x"}[repeated]
    name = {"same_code_twice": "code", "unknown_parameter": "foo"}.get(repeated, repeated)
    if name == "foo":
        pairs.append(("foo", "x"))
    assert_oauth_error(flow.post_pairs(live, "/token", [*pairs, (name, again)]), 400, "invalid_request")
    assert flow.count(live, OidcToken) == 0
    assert flow.redeem(live, platform, code, pkce).status_code == 200, "the code was not spent"


def test_a_refresh_grant_with_a_repeated_refresh_token_is_invalid_request_and_spends_nothing(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    pairs = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"]),
             ("refresh_token", "garbage")]
    response = flow.post_pairs(live, "/token", pairs, auth=(platform.client_id, platform.secret or ""))
    assert_oauth_error(response, 400, "invalid_request")
    with Session(live.node.engine) as db:
        assert db.exec(select(OidcToken)).one().refresh_used_at is None, "the refresh token was not spent"
    assert flow.refresh(live, platform, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_revocation_or_introspection_with_a_repeated_parameter_is_invalid_request(setup, path):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform)
    auth = (platform.client_id, platform.secret or "")
    for pairs in ([("token", tokens["access_token"]), ("token", "garbage")],
                  [("token", tokens["access_token"]), ("token_type_hint", "access_token"),
                   ("token_type_hint", "refresh_token")]):
        response = flow.post_pairs(live, path, pairs, auth=auth)
        assert_oauth_error(response, 400, "invalid_request")
    assert flow.userinfo(live, tokens["access_token"]).status_code == 200, "nothing was revoked"


def test_code_of_a_client_disabled_since_it_was_issued_is_invalid_client(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    assert disable_client(flow.node_context(live), platform.client_id, actor="test")
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 401, "invalid_client")
    assert flow.count(live, OidcToken) == 0


def test_code_redeemed_after_the_member_disconnected_the_platform_is_invalid_grant(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid email", ["email"])
    flow.disconnect(browser, platform)
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 400, "invalid_grant")
    assert flow.count(live, OidcToken) == 0


def test_code_issued_before_a_disconnection_is_refused_after_the_member_connects_again(setup):
    """Connecting the platform again starts a new connection: a code of the earlier one, still within its minute,
    is not revived with the consent."""
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid email", ["email"])
    flow.disconnect(browser, platform)
    flow.tokens_for(live, browser, platform, "openid email", ["email"])
    assert_oauth_error(flow.redeem(live, platform, code, pkce), 400, "invalid_grant")
    assert flow.count(live, OidcToken) == 1, "the new connection's token only"


def test_id_token_of_a_code_carries_the_affiliations_read_with_the_code(setup):
    """The code's redemption reads the member's affiliations with the code: the ID token has them as stored."""
    live, _, platform, browser = setup
    pkce = Pkce()
    asked = {"id_token": {"affiliations": None}}  # the claims parameter: in the ID token too
    params = flow.auth_params(platform, pkce, "openid affiliations", claims=json.dumps(asked))
    code = flow.query_of(flow.authorize(browser, params, ["affiliations"]).headers["location"])["code"]
    response = flow.redeem(live, platform, code, pkce)
    assert response.status_code == 200, response.text
    claims = read_unverified(response.json()["id_token"])[1]
    assert claims["affiliations"] == [{"organisation": "École Test", "kind": "school", "programme": "Génie civil",
                                       "degree": "Master", "class_year": 2018,
                                       "groups": ["Association des anciens", "Club robotique"]}]


def test_o17_refresh_token_rotates_and_reuse_revokes_the_whole_family(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    first = flow.refresh(live, platform, tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    second = flow.refresh(live, platform, rotated["refresh_token"]).json()
    assert_oauth_error(flow.refresh(live, platform, tokens["refresh_token"]), 400, "invalid_grant")
    for access in (tokens["access_token"], rotated["access_token"], second["access_token"]):
        assert flow.userinfo(live, access).status_code == 401
    assert_oauth_error(flow.refresh(live, platform, second["refresh_token"]), 400, "invalid_grant")


def test_o17_refresh_token_of_client_a_used_by_client_b_is_invalid_grant(setup):
    live, _, platform_a, browser = setup
    platform_b = flow.register(live, name="Other")
    tokens = flow.tokens_for(live, browser, platform_a, "openid offline_access", ["offline_access"])
    assert_oauth_error(flow.refresh(live, platform_b, tokens["refresh_token"]), 400, "invalid_grant")
    assert flow.refresh(live, platform_a, tokens["refresh_token"]).status_code == 200


def test_o17_refresh_with_broader_scope_is_invalid_scope_and_keeps_the_token(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    assert_oauth_error(flow.refresh(live, platform, tokens["refresh_token"], scope="openid email offline_access"), 400,
                       "invalid_scope")
    assert flow.refresh(live, platform, tokens["refresh_token"]).status_code == 200


def test_o17_refresh_after_consent_revoked_is_invalid_grant(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    flow.disconnect(browser, platform)
    assert_oauth_error(flow.refresh(live, platform, tokens["refresh_token"]), 400, "invalid_grant")


def introspect(live, platform, token):
    with live.client() as http:
        return http.post("/introspect", data={"token": token}, auth=(platform.client_id, platform.secret)).json()


def test_o17_refresh_with_narrower_scope_gives_an_access_token_of_that_scope_only(setup):
    """RFC 6749 §6 and §3.3: a refresh asking a narrower ``scope`` gets an access token of that scope, and UserInfo
    answers for that scope only (the ``profile`` claims go with ``profile``), not for the grant's. Without ``openid``
    there is no ID token and UserInfo refuses the token. A new refresh token is issued all the same: it is the
    grant's, which had ``offline_access``."""
    live, member, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid profile email offline_access",
                             ["name", "email", "offline_access"])
    sub = read_unverified(tokens["id_token"])[1]["sub"]
    narrowed = flow.refresh(live, platform, tokens["refresh_token"], scope="openid email")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert flow.userinfo(live, body["access_token"]).json() == {"sub": sub, "email": member.email,
                                                                "email_verified": True}
    assert body["scope"] == "openid email" and "refresh_token" in body
    assert "email" not in read_unverified(body["id_token"])[1], "an email asked by scope goes to UserInfo only"
    without_openid = flow.refresh(live, platform, body["refresh_token"], scope="offline_access")
    assert without_openid.status_code == 200, without_openid.text
    assert "id_token" not in without_openid.json()
    refused = flow.userinfo(live, without_openid.json()["access_token"])
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"


def test_o17_refresh_token_rotated_under_a_narrower_scope_keeps_the_scope_of_the_grant(setup):
    """RFC 6749 §6: the new refresh token's scope MUST be identical to that of the one presented. After a narrowed
    refresh the client may ask for the whole grant again (and gets it with no ``scope``), but never for more; only
    the access token was narrowed, as introspection shows."""
    live, _, platform, browser = setup
    grant = "openid profile offline_access"
    tokens = flow.tokens_for(live, browser, platform, grant, ["name", "offline_access"])
    narrowed = flow.refresh(live, platform, tokens["refresh_token"], scope="openid").json()
    assert "name" not in flow.userinfo(live, narrowed["access_token"]).json() and narrowed["scope"] == "openid"
    assert introspect(live, platform, narrowed["access_token"])["scope"] == "openid"
    assert introspect(live, platform, narrowed["refresh_token"])["scope"] == grant
    back = flow.refresh(live, platform, narrowed["refresh_token"], scope=grant)
    assert back.status_code == 200, back.text
    assert back.json()["scope"] == grant
    assert flow.userinfo(live, back.json()["access_token"]).json()["name"] == "Alice Martin"
    narrowed_again = flow.refresh(live, platform, back.json()["refresh_token"], scope="openid").json()
    unasked = flow.refresh(live, platform, narrowed_again["refresh_token"])
    assert unasked.status_code == 200 and unasked.json()["scope"] == grant
    assert_oauth_error(flow.refresh(live, platform, unasked.json()["refresh_token"], scope="openid email"), 400,
                       "invalid_scope")


def test_narrowing_keeps_a_claim_asked_through_the_claims_parameter_unless_the_request_dropped_its_scope(setup):
    """The rule of ``federation.oidc.scopes.narrowed_claims``: a claim asked alone through the ``claims`` parameter
    (here ``email``, whose scope the grant never had) is not tied to a scope and outlives a narrowed refresh while
    ``openid`` stays; a claim whose scope the request drops goes, even when the ``claims`` parameter asked for it
    too (here ``name``, with ``profile``)."""
    live, member, platform, browser = setup
    pkce = Pkce()
    asked = json.dumps({"id_token": {"email": {"essential": True}, "name": None}, "userinfo": {"name": None}})
    params = flow.auth_params(platform, pkce, "openid profile offline_access", claims=asked)
    code = flow.query_of(flow.authorize(browser, params, ["name", "email", "offline_access"]).headers["location"])
    tokens = flow.redeem(live, platform, code["code"], pkce).json()
    assert {"name", "email"} <= set(read_unverified(tokens["id_token"])[1])
    narrowed = flow.refresh(live, platform, tokens["refresh_token"], scope="openid offline_access").json()
    id_token = read_unverified(narrowed["id_token"])[1]
    assert id_token["email"] == member.email and "name" not in id_token
    assert "name" not in flow.userinfo(live, narrowed["access_token"]).json()


def test_id_token_of_a_refresh_leaves_out_a_claim_the_member_has_since_withdrawn(setup):
    """A refresh grant's ID token releases, like UserInfo, only what the member's live consent still grants (read
    with the refresh token): unticking ``email`` on a later consent page stops it at the next refresh, while
    ``name``, still granted, stays."""
    live, _, platform, browser = setup
    asked = json.dumps({"id_token": {"email": {"essential": True}, "name": None}})
    pkce = Pkce()
    first = flow.authorize(browser, flow.auth_params(platform, pkce, "openid offline_access", claims=asked),
                           ["name", "email", "offline_access"])
    tokens = flow.redeem(live, platform, flow.query_of(first.headers["location"])["code"], pkce).json()
    assert {"name", "email"} <= set(read_unverified(tokens["id_token"])[1])
    again = flow.authorize(browser, flow.auth_params(platform, Pkce(), "openid offline_access", claims=asked,
                                                     prompt="consent"), ["name", "offline_access"])
    assert again.status_code == 302, again.text
    refreshed = flow.refresh(live, platform, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    claims = read_unverified(refreshed.json()["id_token"])[1]
    assert "email" not in claims and "name" in claims


def test_a_code_redeemed_after_the_member_unticked_access_while_away_brings_no_refresh_token(setup):
    """The code was issued with ``offline_access``; before the platform redeems it, the member answers a consent
    page without it. The tokens follow the live consent, as the ID token's claims do: no refresh token."""
    live, _, platform, browser = setup
    scope = "openid email offline_access"
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, scope, ["email", "offline_access"])
    flow.code_for(browser, platform, Pkce(), scope, ["email"], prompt="consent")
    response = flow.redeem(live, platform, code, pkce)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()


def test_a_refresh_token_stops_once_the_member_unticks_access_while_away(setup):
    """``offline_access`` is a consent item like a claim: answering a later consent page without it ends the
    refresh tokens it allowed (their whole family), while the other grants of that answer go on."""
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid email offline_access", ["email", "offline_access"])
    again = flow.authorize(browser, flow.auth_params(platform, Pkce(), "openid email offline_access",
                                                     prompt="consent"), ["email"])
    assert again.status_code == 302, again.text
    assert introspect(live, platform, tokens["refresh_token"]) == {"active": False}, "stopped at once, not at its use"
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401, "the family is revoked"
    assert_oauth_error(flow.refresh(live, platform, tokens["refresh_token"]), 400, "invalid_grant")


def test_id_token_of_a_code_leaves_out_a_claim_the_member_withdrew_before_its_redemption(setup):
    """The same rule for a code: its ID token releases what the live consent, read with the code, still grants."""
    live, _, platform, browser = setup
    asked = json.dumps({"id_token": {"email": {"essential": True}}})
    pkce = Pkce()
    first = flow.authorize(browser, flow.auth_params(platform, pkce, "openid", claims=asked), ["email"])
    code = flow.query_of(first.headers["location"])["code"]
    again = flow.authorize(browser, flow.auth_params(platform, Pkce(), "openid", claims=asked, prompt="consent"), [])
    assert again.status_code == 302, again.text
    response = flow.redeem(live, platform, code, pkce)
    assert response.status_code == 200, response.text
    assert "email" not in read_unverified(response.json()["id_token"])[1]


def test_no_refresh_token_without_consented_offline_access(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", [])
    assert "refresh_token" not in tokens and "offline_access" not in tokens["scope"]


def test_x4_concurrent_redemptions_of_one_code_give_one_winner_whose_tokens_are_then_revoked(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    results: list = []
    barrier = threading.Barrier(4)

    def redeem() -> None:
        barrier.wait()
        results.append(flow.redeem(live, platform, code, pkce))

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) <= 1
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code != 200)
    for winner in winners:
        time.sleep(0.05)
        assert flow.userinfo(live, winner.json()["access_token"]).status_code == 401


def test_b3_database_holds_only_hashes_of_secrets_codes_and_tokens(setup):
    live, _, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid offline_access", ["offline_access"])
    tokens = flow.redeem(live, platform, code, pkce).json()
    with Session(live.node.engine) as db:
        dump = json.dumps([row.model_dump(mode="json") for table in (OidcClient, OidcCode, OidcToken)
                           for row in db.exec(select(table))])
    for secret in (platform.secret, code, tokens["access_token"], tokens["refresh_token"]):
        assert secret and secret not in dump


# --- private_key_jwt, and JWTs that must be signed ----------------------------------------------------------------


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def jwt_client(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    key = keys.generate("ES256")
    platform = flow.register(live, auth_method="private_key_jwt", jwks=[{**key.public_jwk(), "kid": key.kid}])
    return live, platform, key, flow.browser(live, member.email)


def assertion_claims(live, platform, **extra):
    now = int(time.time())
    return {"iss": platform.client_id, "sub": platform.client_id, "aud": live.url, "iat": now,
            "exp": now + 60, "jti": secrets.token_hex(8), **extra}


def redeem_with_assertion(live, platform, code, pkce, assertion):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri,
            "code_verifier": pkce.verifier, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    with live.client() as http:
        return http.post("/token", data=data)


def test_private_key_jwt_client_authenticates_with_a_signed_assertion(jwt_client):
    live, platform, key, browser = jwt_client
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    response = redeem_with_assertion(live, platform, code, pkce, sign_jwt(key, assertion_claims(live, platform)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_hs256_client_assertion_is_invalid_client(jwt_client, alg):
    live, platform, key, browser = jwt_client
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    header = b64({"alg": alg, "kid": key.kid})
    payload = b64(assertion_claims(live, platform))
    signature = "" if alg == "none" else hmac_with_public_key(key, f"{header}.{payload}")
    response = redeem_with_assertion(live, platform, code, pkce, f"{header}.{payload}.{signature}")
    assert_oauth_error(response, 400, "invalid_client")  # 401 is for clients that used the Authorization header
    assert flow.count(live, OidcToken) == 0


def hmac_with_public_key(key, signing_input):
    import hashlib
    import hmac

    mac = hmac.new(json.dumps(key.public_jwk()).encode(), signing_input.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@pytest.mark.parametrize("change", ["replayed", "wrong_aud", "expired", "other_key", "embedded_jwk"])
def test_bad_client_assertions_are_invalid_client(jwt_client, change):
    live, platform, key, browser = jwt_client
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    claims = assertion_claims(live, platform)
    if change == "wrong_aud":
        claims["aud"] = "https://other.example/token"
    if change == "expired":
        claims["exp"] = int(time.time()) - 3600
    signer = keys.generate("ES256") if change in ("other_key", "embedded_jwk") else key
    headers = {"jwk": signer.public_jwk()} if change == "embedded_jwk" else None
    assertion = sign_jwt(signer, claims, headers=headers)
    if change == "replayed":
        pkce2 = Pkce()
        code2 = flow.code_for(browser, platform, pkce2)
        assert redeem_with_assertion(live, platform, code2, pkce2, assertion).status_code == 200
    assert_oauth_error(redeem_with_assertion(live, platform, code, pkce, assertion), 400, "invalid_client")


@pytest.mark.parametrize(("audience", "accepted"), [
    ("issuer", True), (["issuer"], True),
    ("token_endpoint", False), (["token_endpoint"], False), (["issuer", "token_endpoint"], False),
    (["https://attacker.example/token", "issuer"], False), (["issuer", "issuer"], False), ("issuer/", False),
], ids=["issuer", "issuer_in_array", "token_endpoint", "token_endpoint_in_array", "issuer_and_token_endpoint",
        "attacker_and_issuer", "issuer_twice", "issuer_with_slash"])
def test_private_key_jwt_assertion_audience_is_the_issuer_alone(jwt_client, audience, accepted):
    """draft-ietf-oauth-rfc7523bis: the token endpoint URL, or an array naming anything beside the issuer, could be
    an assertion a malicious authorization server obtained by listing our token endpoint as its own."""
    live, platform, key, browser = jwt_client
    names = {"issuer": live.url, "token_endpoint": live.url + "/token", "issuer/": live.url + "/"}
    aud = [names.get(a, a) for a in audience] if isinstance(audience, list) else names[audience]
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce)
    response = redeem_with_assertion(live, platform, code, pkce, sign_jwt(key, assertion_claims(live, platform,
                                                                                              aud=aud)))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_oauth_error(response, 400, "invalid_client")
        assert flow.count(live, OidcToken) == 0


def test_concurrent_uses_of_one_refresh_token_leave_no_live_tokens_in_the_family(setup):
    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    results: list = []
    barrier = threading.Barrier(3)

    def use() -> None:
        barrier.wait()
        results.append(flow.refresh(live, platform, tokens["refresh_token"]))

    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.status_code == 200 for r in results) <= 1
    for response in results:
        if response.status_code == 200:
            assert flow.userinfo(live, response.json()["access_token"]).status_code == 401
        else:
            assert response.json()["error"] == "invalid_grant"


def test_refresh_grants_sent_together_each_get_their_own_members_tokens(live_node):
    """On PostgreSQL the refresh grants waiting at the same time read their tokens in one statement
    (nodes/oidc/token_routes.py): each still rotates its own token, for its own member, and an unknown token among
    them is refused alone."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member

    live = live_node()
    platform = flow.register(live)
    chains: dict[str, dict] = {}
    for name in ("Ada", "Bea", "Cyd", "Dee", "Eve", "Fay"):
        member = seed_member(live.node.engine, email=f"{name.lower()}@ecole.example", given_name=name,
                             password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
        chains[name] = flow.tokens_for(live, flow.browser(live, member.email), platform,
                                       "openid profile offline_access", ["given_name", "offline_access"])

    def grant(name: str) -> tuple[str, object]:
        token = chains[name]["refresh_token"] if name in chains else "not-a-token-this-node-issued"
        return name, flow.refresh(live, platform, token)

    for _ in range(4):  # each round uses the tokens the round before returned
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(grant, [*chains, "nobody"]))
        for name, answer in answers:
            if name == "nobody":
                assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
                continue
            assert answer.status_code == 200, (name, answer.text)
            body = answer.json()
            assert flow.userinfo(live, body["access_token"]).json()["given_name"] == name
            assert read_unverified(body["id_token"])[1]["sub"] == read_unverified(chains[name]["id_token"])[1]["sub"]
            chains[name] = {**body, "id_token": chains[name]["id_token"]}


@pytest.mark.skipif(database_kind() != "postgres", reason="only PostgreSQL's routes read refresh tokens together")
def test_refresh_tokens_are_read_many_at_once_with_their_client_lockout_and_none_for_no_match(setup):
    from federation.oidc.models import secret_hash
    from nodes.oidc.store import SqlProviderStore

    live, member, platform, browser = setup
    first, second = (flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
                     for _ in range(2))
    wanted = [(secret_hash(first["refresh_token"]), "192.0.2.1"), (secret_hash("unknown"), "192.0.2.1"),
              (secret_hash(second["refresh_token"]), "192.0.2.1")]
    found = SqlProviderStore(flow.node_context(live)).read_refresh_tokens(wanted)
    assert list(found) == wanted and found[(secret_hash("unknown"), "192.0.2.1")] is None
    for tokens in (first, second):
        row = found[(secret_hash(tokens["refresh_token"]), "192.0.2.1")]
        assert row is not None and row.member_id == member.id and row.c__client_id == platform.client_id
        assert row.c__locked_until is None and row.c__failures is None and row.refresh_used_at is None


@pytest.mark.skipif(database_kind() != "postgres", reason="only PostgreSQL's routes read refresh tokens together")
def test_refresh_tokens_read_together_each_carry_the_lockout_at_their_own_request_address(setup):
    """Refresh grants arriving together read their tokens in one statement (PostgreSQL): each token comes with its
    client's lockout at the address of the request that presents it, even one token presented from two addresses."""
    from federation.oidc.models import secret_hash
    from nodes.oidc.store import SqlProviderStore

    live, _, platform, browser = setup
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    flow.lock_out(live, platform, {"grant_type": "refresh_token", "refresh_token": "x"}, address=flow.OTHER_ADDRESS)
    token_hash = secret_hash(tokens["refresh_token"])
    wanted = [(token_hash, flow.OTHER_ADDRESS), (token_hash, flow.PLATFORM_ADDRESS)]
    found = SqlProviderStore(flow.node_context(live)).read_refresh_tokens(wanted)
    attacker, platform_row = found[wanted[0]], found[wanted[1]]
    assert attacker is not None and attacker.c__locked_until is not None and attacker.c__failures == 10
    assert platform_row is not None and platform_row.c__locked_until is None and platform_row.c__failures is None
