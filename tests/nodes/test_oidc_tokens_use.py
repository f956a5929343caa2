"""ID tokens, UserInfo, introspection and revocation: SECURITY O18, O19, O22, and privacy by default (pairwise)."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import Session, select

from credentials import jose
from nodes.storage.models import AuditEvent
from tests.movable_clock import MovableClock
from tests.nodes import oidc_flow as flow


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    return live, member, flow.browser(live, member.email)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_o18_id_token_is_signed_with_a_published_key_and_carries_the_required_claims(setup, alg):
    live, _, browser = setup
    platform = flow.register(live, id_token_alg=alg)
    tokens = flow.tokens_for(live, browser, platform)
    header, claims = jose.read_unverified(tokens["id_token"])
    assert header["alg"] == alg and header["kid"]
    with live.client() as http:
        jwks = http.get("/.well-known/jwks.json").json()["keys"]
        metadata = http.get("/.well-known/openid-configuration").json()
    assert alg in metadata["id_token_signing_alg_values_supported"] and "RS256" in metadata[
        "id_token_signing_alg_values_supported"]
    jose.verify_jwt(tokens["id_token"], jwks, [alg])
    assert claims["iss"] == live.url == metadata["issuer"]
    assert claims["aud"] == platform.client_id and claims["azp"] == platform.client_id
    assert claims["exp"] > claims["iat"] and "auth_time" in claims
    from federation.oidc.id_token import half_hash
    assert claims["at_hash"] == half_hash(tokens["access_token"], alg)


def test_o18_pairwise_sub_differs_per_sector_is_stable_and_hides_the_public_id(setup, caplog):
    live, member, browser = setup
    caplog.set_level(logging.DEBUG)
    one = flow.register(live, redirect_uris=["https://one.example/cb"])
    one_again = flow.register(live, name="One, second app", redirect_uris=["https://one.example/other"])
    two = flow.register(live, name="Two", redirect_uris=["https://two.example/cb"])
    subs = {}
    for name, platform in (("one", one), ("one_again", one_again), ("two", two)):
        tokens = flow.tokens_for(live, browser, platform)
        subs[name] = jose.read_unverified(tokens["id_token"])[1]["sub"]
        info = flow.userinfo(live, tokens["access_token"])
        assert info.json()["sub"] == subs[name]
        assert member.public_id not in tokens["id_token"] + info.text
    assert subs["one"] == subs["one_again"], "one sector (host), one sub"
    assert subs["one"] != subs["two"]
    again = jose.read_unverified(flow.tokens_for(live, browser, two)["id_token"])[1]["sub"]
    assert again == subs["two"], "stable"
    assert member.public_id not in caplog.text


def test_public_subject_only_when_the_client_is_registered_so(setup):
    live, member, browser = setup
    platform = flow.register(live, subject_type="public")
    assert jose.read_unverified(flow.tokens_for(live, browser, platform)["id_token"])[1]["sub"] == member.public_id


def test_o19_userinfo_releases_only_consented_claims_and_sub_equals_id_token(setup):
    live, member, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid profile email affiliations", ["email"])
    response = flow.userinfo(live, tokens["access_token"])
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.json() == {"sub": jose.read_unverified(tokens["id_token"])[1]["sub"], "email": member.email,
                               "email_verified": True}


def test_o19_token_without_profile_scope_gets_no_profile_claims(setup):
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid", ["name"])
    assert set(flow.userinfo(live, tokens["access_token"]).json()) == {"sub"}


def test_affiliations_claim_lists_the_members_affiliations_with_this_organisation(setup):
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid affiliations", ["affiliations"])
    affiliations = flow.userinfo(live, tokens["access_token"]).json()["affiliations"]
    assert affiliations == [{"organisation": "École Test", "kind": "school", "programme": "Génie civil",
                             "degree": "Master", "class_year": 2018,
                             "groups": ["Association des anciens", "Club robotique"]}]


def test_o19_token_in_the_query_string_is_ignored(setup):
    live, _, browser = setup
    tokens = flow.tokens_for(live, browser, flow.register(live))
    with live.client() as http:
        response = http.get("/userinfo", params={"access_token": tokens["access_token"]})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("request_kind", ["get", "post", "basic"])
def test_userinfo_without_any_bearer_token_is_a_bare_bearer_challenge(setup, request_kind):
    """RFC 6750 §3.1: a request without authentication information (or with another scheme's) gets a challenge
    that names no error, and no error information beside it."""
    live, _, _ = setup
    with live.client() as http:
        response = {"get": lambda: http.get("/userinfo"), "post": lambda: http.post("/userinfo", data={}),
                    "basic": lambda: http.get("/userinfo", auth=("someone", "secret"))}[request_kind]()
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "error" not in response.text and response.headers["cache-control"] == "no-store"


def test_userinfo_token_without_openid_scope_is_insufficient_scope_with_a_bearer_challenge(setup):
    """OpenID Connect Core §5.3.3 answers UserInfo errors as RFC 6750 §3 does: 403 with the error in a
    ``WWW-Authenticate: Bearer`` challenge, which names the scope needed."""
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    narrowed = flow.refresh(live, platform, tokens["refresh_token"], scope="offline_access")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "offline_access", narrowed.text
    response = flow.userinfo(live, narrowed.json()["access_token"])
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge


def test_userinfo_errors_name_themselves_in_the_bearer_challenge(setup):
    """Every other UserInfo error carries its code in the challenge too (RFC 6750 §3)."""
    live, _, browser = setup
    token = flow.tokens_for(live, browser, flow.register(live))["access_token"]
    with live.client() as http:
        both = http.post("/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"})
    unknown = flow.userinfo(live, "not-a-token-this-node-issued")
    assert both.status_code == 400 and 'error="invalid_request"' in both.headers["www-authenticate"]
    assert unknown.status_code == 401 and 'error="invalid_token"' in unknown.headers["www-authenticate"]


def test_userinfo_by_post_with_header_or_form_body_but_not_both(setup):
    live, _, browser = setup
    token = flow.tokens_for(live, browser, flow.register(live))["access_token"]
    with live.client() as http:
        assert http.post("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert http.post("/userinfo", data={"access_token": token}).status_code == 200
        both = http.post("/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    twice = flow.post_pairs(live, "/userinfo", [("access_token", token), ("access_token", "another")])
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"


def test_o19_expired_access_token_is_invalid_token(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    tokens = flow.tokens_for(live, flow.browser(live, member.email), flow.register(live))
    clock.advance(seconds=tokens["expires_in"] + 1)
    response = flow.userinfo(live, tokens["access_token"])
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_rfc7009_revoked_access_token_stops_working_at_once(setup):
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform)
    with live.client() as http:
        response = http.post("/revoke", data={"token": tokens["access_token"]},
                             auth=(platform.client_id, platform.secret))
    assert response.status_code == 200
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401


def test_rfc7009_revoking_a_refresh_token_revokes_its_access_tokens(setup):
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    with live.client() as http:
        http.post("/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
                  auth=(platform.client_id, platform.secret))
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "foo"])
def test_rfc7009_a_token_type_hint_only_orders_the_search_whatever_it_says(setup, hint):
    """RFC 7009 §2.1: a hint that does not find the token extends the search to every type, and one the server
    does not know may be ignored; it is never a reason to keep a token alive (nor a 401)."""
    live, _, browser = setup
    platform = flow.register(live)
    by_access = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    by_refresh = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    auth = (platform.client_id, platform.secret)
    with live.client() as http:
        for token in (by_access["access_token"], by_refresh["refresh_token"]):
            response = http.post("/revoke", data={"token": token, "token_type_hint": hint}, auth=auth)
            assert response.status_code == 200, response.text
    assert flow.userinfo(live, by_access["access_token"]).status_code == 401
    assert flow.userinfo(live, by_refresh["access_token"]).status_code == 401, "the refresh token's family too"
    assert flow.refresh(live, platform, by_refresh["refresh_token"]).json()["error"] == "invalid_grant"


def test_rfc7009_unknown_token_is_200_and_another_clients_token_is_refused(setup):
    live, _, browser = setup
    platform, other = flow.register(live), flow.register(live, name="Other")
    tokens = flow.tokens_for(live, browser, platform)
    with live.client() as http:
        own_auth, other_auth = (platform.client_id, platform.secret), (other.client_id, other.secret)
        assert http.post("/revoke", data={"token": "unknown"}, auth=own_auth).status_code == 200
        refused = http.post("/revoke", data={"token": tokens["access_token"]}, auth=other_auth)
    assert refused.status_code == 400
    assert flow.userinfo(live, tokens["access_token"]).status_code == 200


def test_rfc7662_introspection_needs_client_auth_and_shows_only_own_tokens(setup):
    live, _, browser = setup
    platform, other = flow.register(live), flow.register(live, name="Other")
    tokens = flow.tokens_for(live, browser, platform)
    sub = jose.read_unverified(tokens["id_token"])[1]["sub"]
    with live.client() as http:
        anonymous = http.post("/introspect", data={"token": tokens["access_token"]})
        body = {"token": tokens["access_token"]}
        own = http.post("/introspect", data=body, auth=(platform.client_id, platform.secret))
        foreign = http.post("/introspect", data=body, auth=(other.client_id, other.secret))
    assert anonymous.status_code in (400, 401) and anonymous.json()["error"] == "invalid_client"
    assert own.json()["active"] is True and own.json()["sub"] == sub and own.json()["client_id"] == platform.client_id
    assert own.headers["cache-control"] == "no-store"
    assert foreign.json() == {"active": False}


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "foo"])
def test_rfc7662_a_token_type_hint_only_orders_the_search_whatever_it_says(setup, hint):
    """RFC 7662 §2.1: a hint that does not find the token extends the search to every type, and one the server
    does not know may be ignored: both tokens are described whatever the hint."""
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid offline_access", ["offline_access"])
    with live.client() as http:
        answers = {kind: http.post("/introspect", data={"token": tokens[kind], "token_type_hint": hint},
                                   auth=(platform.client_id, platform.secret))
                   for kind in ("access_token", "refresh_token")}
    for kind, answer in answers.items():
        assert answer.status_code == 200, answer.text
        assert answer.json()["active"] is True and answer.json()["client_id"] == platform.client_id
        assert answer.json()["token_type"] == ("Bearer" if kind == "access_token" else "refresh_token")


def test_revocations_are_in_the_audit_log(setup):
    live, _, browser = setup
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform)
    with live.client() as http:
        http.post("/revoke", data={"token": tokens["access_token"]}, auth=(platform.client_id, platform.secret))
    with Session(live.node.engine) as db:
        actions = [e.action for e in db.exec(select(AuditEvent))]
    assert "oidc.tokens.revoked" in actions and "oidc.consent.granted" in actions
    assert "oidc.client.created" in actions


def test_affiliations_scope_also_hands_out_the_signed_credentials_which_verify(setup):
    from nodes.credentials_service import ensure_member_credentials

    live, member, browser = setup
    issued = ensure_member_credentials(flow.node_context(live), member.id, actor="test")
    assert issued, "the seeded member has an affiliation, so a credential is issued"
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid affiliations", ["affiliations"])
    received = flow.userinfo(live, tokens["access_token"]).json()["affiliation_credentials"]
    assert received == issued
    with live.client() as http:
        assert "affiliation_credentials" in http.get("/.well-known/openid-configuration").json()["claims_supported"]
        verdict = http.post("/credentials/verify", json={"verifiableCredential": received[0]})
    assert verdict.status_code == 200 and verdict.json()["verified"] is True


def test_credentials_are_not_handed_out_without_the_affiliations_consent(setup):
    from nodes.credentials_service import ensure_member_credentials

    live, member, browser = setup
    ensure_member_credentials(flow.node_context(live), member.id, actor="test")
    platform = flow.register(live)
    tokens = flow.tokens_for(live, browser, platform, "openid affiliations", [])
    assert "affiliation_credentials" not in flow.userinfo(live, tokens["access_token"]).json()


def test_userinfo_read_in_one_statement_gives_the_affiliations_and_credentials_in_order(live_node):
    """UserInfo reads the member's affiliations and credentials with the token (nodes/oidc/userinfo_read.py): the
    claims equal what the per-member reads give, dates and groups included, and credentials come newest first."""
    from nodes.credentials_service import ensure_member_credentials, member_credentials
    from nodes.oidc.store import SqlProviderStore
    from tests.seed import COMPANY_AFFILIATION, PASSWORD, SCHOOL_AFFILIATION, seed_member

    live = live_node()
    member = seed_member(live.node.engine, email="alice@ecole.example", password=PASSWORD,
                         affiliations=[SCHOOL_AFFILIATION, COMPANY_AFFILIATION])
    ctx = flow.node_context(live)
    issued = ensure_member_credentials(ctx, member.id, actor="test")
    assert len(issued) == 2
    newest_first = member_credentials(ctx, member.id)
    platform = flow.register(live)
    tokens = flow.tokens_for(live, flow.browser(live, member.email), platform, "openid affiliations",
                             ["affiliations"])
    answer = flow.userinfo(live, tokens["access_token"]).json()
    expected = SqlProviderStore(ctx).member_claims(member.id)  # outside a request: the per-member reads
    assert expected is not None and answer["affiliations"] == list(expected.affiliations)
    assert [a["kind"] for a in answer["affiliations"]] == ["school", "company"]
    assert answer["affiliations"][0]["groups"] == SCHOOL_AFFILIATION["groups"]
    assert answer["affiliations"][1]["start_date"] == "2019-09-01"
    assert answer["affiliation_credentials"] == newest_first


def test_userinfo_requests_sent_together_each_get_their_own_members_answer(live_node):
    """UserInfo requests that wait at the same time share one read (nodes/oidc/token_reads.py): each still gets the
    answer for its own token, and a revoked or unknown token among them is refused alone."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member

    live = live_node()
    platform = flow.register(live)
    tokens: dict[str, str] = {}
    for name in ("Ada", "Bea", "Cyd", "Dee", "Eve"):
        member = seed_member(live.node.engine, email=f"{name.lower()}@ecole.example", given_name=name,
                             password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
        tokens[name] = flow.tokens_for(live, flow.browser(live, member.email), platform, "openid profile",
                                       ["given_name"])["access_token"]
    with live.client() as http:
        assert http.post("/revoke", data={"token": tokens["Eve"]},
                         auth=(platform.client_id, platform.secret)).status_code == 200
    tokens["nobody"] = "not-a-token-this-node-issued"
    asked = [name for _ in range(8) for name in tokens]

    def ask(name: str) -> tuple[str, int, str | None]:
        answer = flow.userinfo(live, tokens[name])
        return name, answer.status_code, answer.json().get("given_name") if answer.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(ask, asked))
    for name, status, given_name in answers:
        if name in ("Eve", "nobody"):
            assert status == 401, name
        else:
            assert (status, given_name) == (200, name)


def test_access_tokens_are_read_many_at_once_with_none_for_a_hash_that_matches_none(setup):
    from federation.oidc.models import secret_hash
    from nodes.oidc.store import SqlProviderStore

    live, member, browser = setup
    platform = flow.register(live)
    first, second = (flow.tokens_for(live, browser, platform)["access_token"] for _ in range(2))
    wanted = [secret_hash(first), secret_hash("unknown"), secret_hash(second)]
    found = SqlProviderStore(flow.node_context(live)).read_access_tokens(wanted)
    assert list(found) == wanted and found[secret_hash("unknown")] is None
    for token in (first, second):
        row = found[secret_hash(token)]
        assert row is not None and row.member_id == member.id and row.c__client_id == platform.client_id


def test_a_store_scope_that_read_ahead_never_reaches_the_database(setup):
    """UserInfo answers on the event loop from what it read ahead: a store call that would need the database there
    is a programming error, and fails loudly instead of blocking the loop."""
    from federation.oidc.models import secret_hash
    from nodes.oidc.store import SqlProviderStore

    live, _, browser = setup
    platform = flow.register(live)
    token = flow.tokens_for(live, browser, platform)["access_token"]
    store = SqlProviderStore(flow.node_context(live))
    with store.one_session(store.read_access_tokens([secret_hash(token)])):
        record = store.find_token(secret_hash(token), "access_token")
        assert record is not None and store.get_client(platform.client_id) is not None, "read with the token"
        with pytest.raises(RuntimeError, match="read ahead"):
            store.find_token(secret_hash("another"), "access_token")
        with pytest.raises(RuntimeError, match="read ahead"):
            store.get_client("another-client")
