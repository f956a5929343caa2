"""Alumni Hub, the demo platform, as a relying party of real nodes over HTTP.

A member links both networks in one platform session; what they did not consent to never arrives; the callback
is refused when its ``state`` is not this browser's or its ``iss`` is not the network's (nothing linked); a
provider whose discovery names another issuer is refused before any redirect; after the member disconnects the
platform at the node, the platform's stored token is refused and the platform says so. A credential is shown as
verified only when it is about the member who signed in: another member's is not, and without the member's name
it is genuine but unmatched.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import update

from nodes.credentials_service import ensure_member_credentials
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.db import transaction
from tests.conftest import free_port
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.e2e.platform_support import (
    INTERACTION,
    holding_a_credential,
    platform_config,
    platform_form,
    serve_platform,
    sign_in_through_platform,
    start_platform,
)
from tests.nodes.oidc_flow import node_context
from tests.seed import COMPANY_AFFILIATION, PASSWORD, SCHOOL_AFFILIATION, seed_member


def _offers_credentials(live) -> bool:
    metadata = httpx.get(live.url + "/.well-known/openid-configuration").json()
    return "affiliation_credentials" in metadata.get("claims_supported", [])


def test_member_links_school_and_company_in_one_platform_session(live_node):
    school, company = live_node(kind="school"), live_node(kind="company")
    alice_school = seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    alice_company = seed_member(company.node.engine, email="alice@acme.example", password=PASSWORD,
                                affiliations=[COMPANY_AFFILIATION])
    for live, member in ((school, alice_school), (company, alice_company)):
        assert ensure_member_credentials(node_context(live), member.id, actor="test")
    platform = start_platform({"school": ("École Test", school), "company": ("Test Company", company)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15) as http:
            page = sign_in_through_platform(http, platform, "school", "alice@ecole.example")
            assert str(page.url) == platform.url + "/"
            assert "Welcome, Alice Martin" in page.text and "Génie civil" in page.text
            page = sign_in_through_platform(http, platform, "company", "alice@acme.example")
            assert "From École Test" in page.text and "From Test Company" in page.text
            assert "Génie civil" in page.text and "Data engineer" in page.text
            for live in (school, company):
                assert _offers_credentials(live)
            assert page.text.count("Verified:") == 2 and "Not verified" not in page.text
    finally:
        platform.stop()


def _platform_page_after_sign_in(school, **sign_in_options) -> str:
    """Alumni Hub's page once Alice has signed in with ``school``."""
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15) as http:
            return sign_in_through_platform(http, platform, "school", "alice@ecole.example", **sign_in_options).text
    finally:
        platform.stop()


def test_credential_about_the_member_who_signed_in_is_verified_and_says_whom_it_is_about(live_node):
    school = live_node()
    holding_a_credential(school)
    page = _platform_page_after_sign_in(school)
    assert page.count("Verified:") == 1 and "Not verified" not in page
    assert "<dt>Issued to</dt><dd>Alice Martin</dd>" in page
    assert "holder: passed — issued to Alice Martin, the name you signed in with" in page


def test_another_members_credential_is_not_shown_as_verified(live_node):
    """The node is made to hand Alice Bruno's credential too, by moving its row to her in the node's database (a
    node that mixes members up; no code is replaced): the real UserInfo answer then carries it to the platform."""
    school = live_node()
    alice, _ = holding_a_credential(school)
    bruno, _ = holding_a_credential(school, email="bruno@ecole.example", given_name="Bruno", family_name="Durand")
    with transaction(school.node.engine) as db:
        db.execute(update(IssuedCredential).where(IssuedCredential.member_id == bruno.id)
                   .values(member_id=alice.id))
    page = _platform_page_after_sign_in(school)
    assert page.count("Verified:") == 1 and page.count("Not verified:") == 1
    assert "<dt>Issued to</dt><dd>Bruno Durand</dd>" in page
    assert "holder: failed — issued to someone else: Bruno Durand, not Alice Martin" in page


def test_without_the_members_name_a_genuine_credential_is_unmatched_not_verified(live_node):
    school = live_node()
    holding_a_credential(school)
    page = _platform_page_after_sign_in(school, claims=["affiliations"])
    assert "Génie civil" in page and "Name</dt><dd><span class=\"hint\">not shared" in page
    assert "Verified:" not in page and "Not verified:" not in page
    assert page.count("Genuine, but not matched to you:") == 1
    assert "holder: unknown — issued to Alice Martin; your name was not shared" in page
    assert "signature: passed" in page and "status: passed" in page


def test_claims_the_member_did_not_tick_never_reach_the_platform(live_node):
    school = live_node()
    seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15) as http:
            page = sign_in_through_platform(http, platform, "school", "alice@ecole.example",
                                            claims=["given_name", "family_name"])
            assert "Welcome, Alice" in page.text
            assert "alice@ecole.example" not in page.text
            assert "Génie civil" not in page.text and "Affiliations: not shared" in page.text
    finally:
        platform.stop()


def _callback_url(http: httpx.Client, platform, school) -> str:
    """Walk the flow up to the node's redirect back to the platform, without following it."""
    assert sign_in(http, "alice@ecole.example", PASSWORD, next="/").status_code == 303
    start = http.get(f"{platform.url}/login/school")
    assert start.status_code == 302
    authorize = http.get(start.headers["location"], headers=HTML)
    if authorize.status_code == 200:  # the consent page: allow
        form = {"csrf_token": csrf_of(authorize), "interaction": INTERACTION.search(authorize.text).group(1),
                "decision": "allow", "claims": ["given_name", "family_name", "affiliations"]}
        authorize = http.post(school.url + "/authorize/consent", data=form, headers=HTML)
    assert authorize.status_code == 302
    return authorize.headers["location"]


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_r6_callback_whose_state_this_browser_did_not_start_links_nothing(live_node):
    school = live_node()
    seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(base_url=school.url, timeout=15) as victim, httpx.Client(timeout=15) as attacker:
            callback = _callback_url(victim, platform, school)
            refused = attacker.get(callback)  # login CSRF: the attacker's code in someone else's browser
            assert refused.status_code == 400 and "not asked for by this browser" in refused.text
            assert "From École Test" not in attacker.get(platform.url + "/").text
            assert victim.get(callback).status_code == 303  # the browser that started it may finish it, once
            assert victim.get(callback).status_code == 400  # a state is good for one answer only
    finally:
        platform.stop()


def test_r5_callback_with_another_iss_is_refused_and_burns_the_state(live_node):
    school = live_node()
    seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(base_url=school.url, timeout=15) as http:
            callback = _callback_url(http, platform, school)
            assert parse_qs(urlsplit(callback).query)["iss"] == [school.url]
            mixed_up = http.get(_with(callback, iss="http://localhost:1"))
            assert mixed_up.status_code == 400 and "does not come from École Test" in mixed_up.text
            assert http.get(callback).status_code == 400
            assert "From École Test" not in http.get(platform.url + "/").text
    finally:
        platform.stop()


def test_provider_whose_discovery_names_another_issuer_is_refused_before_any_redirect(live_node):
    school = live_node()
    port = int(school.url.rsplit(":", 1)[1])
    config = platform_config({"school": ("École Test", school)}, free_port())
    # The node says its issuer is http://localhost:<port>; the platform was told http://127.0.0.1:<port>.
    config = replace(config, networks=tuple(replace(n, issuer=f"http://127.0.0.1:{port}") for n in config.networks))
    platform = serve_platform(config)
    try:
        answer = httpx.get(f"{platform.url}/login/school")
        assert answer.status_code == 502 and "names another issuer" in answer.text
    finally:
        platform.stop()


def test_platform_token_is_refused_once_the_member_disconnects_it_at_the_node(live_node):
    school = live_node()
    seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15) as http:
            sign_in_through_platform(http, platform, "school", "alice@ecole.example")
            refreshed = platform_form(http, platform, "/refresh/school")
            assert "Your data from École Test is up to date." in refreshed.text
            mine = http.get(school.url + "/me/platforms", headers=HTML)
            client_id = platform.config.networks[0].client_id
            http.post(f"{school.url}/me/platforms/{client_id}/revoke", data={"csrf_token": csrf_of(mine)},
                      headers=HTML)
            refused = platform_form(http, platform, "/refresh/school")
            assert "refused Alumni Hub" in refused.text and "invalid_token" in refused.text
            assert "HTTP 401" in refused.text
    finally:
        platform.stop()


def test_platform_cookie_is_an_opaque_id_renewed_at_sign_in_and_holds_no_token(live_node):
    school = live_node()
    seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15) as http:
            first = http.get(platform.url + "/")
            assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Lax" in first.headers["set-cookie"]
            before = http.cookies.get("alumnihub_session")
            sign_in_through_platform(http, platform, "school", "alice@ecole.example")
            after = http.cookies.get("alumnihub_session")
            assert before and after and before != after  # a new id after the sign-in (session fixation)
            assert len(after) == 43  # 256 random bits, nothing else
            [token] = platform.access_tokens()
            assert token not in str(http.cookies.jar)
            out = platform_form(http, platform, "/signout")
            assert "Sign in with École Test" in out.text and platform.access_tokens() == []
    finally:
        platform.stop()


def test_a_french_visitor_reads_the_platform_and_its_credential_checks_in_french(live_node):
    school = live_node(kind="school")
    holding_a_credential(school)
    platform = start_platform({"school": ("École Test", school)})
    try:
        with httpx.Client(follow_redirects=True, timeout=15, headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as http:
            home = http.get(platform.url + "/")
            assert '<html lang="fr">' in home.text and "Se connecter avec École Test" in home.text
            page = sign_in_through_platform(http, platform, "school", "alice@ecole.example")
            assert "Bienvenue, Alice Martin" in page.text and "Reçu de École Test" in page.text
            assert page.text.count("Vérifiée :") == 1 and "signature : réussi" in page.text
            assert "ni révoquée, ni suspendue" in page.text and "Promotion" in page.text
            english = http.get(platform.url + "/lang/en")  # the visitor's choice wins over the browser's
            assert '<html lang="en">' in english.text and "Verified:" in english.text
            assert "issuer: passed" in english.text
    finally:
        platform.stop()
