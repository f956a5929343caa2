"""A real browser signs in to Alumni Hub with the school, then disconnects it at the school; its token is refused.

Debian's headless Chromium, through Playwright, against a real school node and the real demo platform, each
served by uvicorn on loopback. The member clicks "Sign in with <school>" on the platform, signs in at the school,
consents (the optional e-mail address stays unticked and never reaches the platform), and comes back signed in
with the consented claims and their affiliation credential, issued beforehand through the school's own issuance
and shown verified as theirs. Then, on the school's "Connected platforms" page, they disconnect the platform; the
platform's "refresh my data" sends its stored access token to UserInfo and gets 401 ``invalid_token``, and a
direct UserInfo call with that token is refused the same way. No browser is ever downloaded: without
/usr/bin/chromium the test skips, except under CI=true where that is a failure.
"""

from __future__ import annotations

import re

import httpx
import pytest

from nodes.credentials_service import ensure_member_credentials
from tests.e2e.platform_support import start_platform
from tests.nodes.oidc_flow import node_context
from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member

pytestmark = pytest.mark.browser


def _sign_in_at_school(page, email: str) -> None:
    page.get_by_label("E-mail address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()


def test_member_signs_in_to_the_platform_with_the_school_then_revokes_it_and_its_token_is_refused(
    live_node, browser
):
    school = live_node()
    member = seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    assert len(ensure_member_credentials(node_context(school), member.id, actor="test")) == 1
    platform = start_platform({"ecole": ("École Test", school)})
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(platform.url)
        page.get_by_role("link", name="Sign in with École Test").click()

        page.wait_for_url(re.compile(re.escape(school.url) + r"/signin"))
        _sign_in_at_school(page, member.email)

        page.wait_for_url(re.compile(re.escape(school.url) + r"/authorize/resume"))
        assert page.get_by_role("heading", name="Sign in to Alumni Hub").is_visible()
        assert page.get_by_role("link", name="Privacy policy of Alumni Hub").is_visible()
        affiliations = page.get_by_label(re.compile("^Your affiliations with this organisation"))
        email = page.get_by_label(re.compile("^Your e-mail address"))
        assert affiliations.is_checked()  # asked as essential by the platform: ticked by default
        assert not email.is_checked()  # optional: unticked by default (privacy by default)
        email.uncheck()
        page.get_by_role("button", name="Allow").click()

        page.wait_for_url(platform.url + "/", timeout=10_000)
        assert page.get_by_role("heading", name="Welcome, Alice Martin").is_visible()
        assert page.get_by_role("heading", name="From École Test").is_visible()
        content = page.content()
        assert "Génie civil" in content and "Club robotique" in content
        assert member.email not in content  # the unticked claim was never sent
        assert re.search(r"E-mail</dt><dd><span class=\"hint\">not shared", content)
        assert "No verifiable credential received" not in content
        [credential] = page.locator("ul.credentials > li").all()
        assert credential.get_attribute("class") == "ok"
        assert credential.locator("strong").inner_text() == "Verified:"
        text = credential.inner_text()
        assert "AlumniCredential: Génie civil, Master, 2018" in text and "Issued to\nAlice Martin" in text
        for check in ("issuer", "signature", "validity", "status", "holder"):
            assert f"{check}: passed" in text
        page.get_by_role("button", name="Refresh my data from École Test").click()
        assert page.get_by_role("status").filter(has_text="up to date").is_visible()
        [token] = platform.access_tokens()
        with httpx.Client(base_url=school.url) as http:
            assert http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 200

        page.goto(school.url + "/me/platforms")
        assert page.get_by_role("heading", name="Alumni Hub").is_visible()
        page.get_by_role("button", name="Disconnect this platform").click()
        page.wait_for_url(school.url + "/me/platforms")
        assert page.get_by_text("(disconnected)").is_visible()
        assert page.get_by_role("cell", name="Disconnected by you: its access stopped").is_visible()

        page.goto(platform.url)
        page.get_by_role("button", name="Refresh my data from École Test").click()
        alert = page.get_by_role("alert")
        assert "refused Alumni Hub's access token" in alert.inner_text()
        assert "invalid_token" in alert.inner_text() and "HTTP 401" in alert.inner_text()
        assert page.get_by_role("link", name="Sign in with École Test").is_visible()
        with httpx.Client(base_url=school.url) as http:
            refused = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    finally:
        context.close()
        platform.stop()


def test_returning_member_signs_in_again_without_a_second_consent_page(live_node, browser):
    school = live_node()
    member = seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    platform = start_platform({"ecole": ("École Test", school)})
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(platform.url)
        page.get_by_role("link", name="Sign in with École Test").click()
        _sign_in_at_school(page, member.email)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(platform.url + "/", timeout=10_000)
        page.goto(school.url + "/me")
        page.get_by_role("button", name="Sign out").click()  # signed out at the school...
        page.goto(platform.url)
        page.get_by_role("button", name="Sign out of Alumni Hub").click()  # ...and at the platform
        page.get_by_role("link", name="Sign in with École Test").click()
        _sign_in_at_school(page, member.email)  # the consent is remembered: straight back to the platform
        page.wait_for_url(platform.url + "/", timeout=10_000)
        assert page.get_by_role("heading", name="Welcome, Alice Martin").is_visible()
    finally:
        context.close()
        platform.stop()
