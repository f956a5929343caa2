"""A real browser (Debian's headless Chromium through Playwright) claims an account and reads its affiliations.

The member opens the invitation link from the outbox e-mail, chooses a password, lands on their page, signs out
and signs in again; once in French and once in English. Fields are found by their visible labels, so the test
also proves every input is labelled. No browser is ever downloaded: without /usr/bin/chromium the test skips,
except under CI=true where that is a failure.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.browsing import invite
from tests.seed import COMPANY_AFFILIATION, SCHOOL_AFFILIATION, seed_member

pytestmark = pytest.mark.browser
PASSWORD = "un mot de passe bien long"


def claim_and_sign_in(browser, link: str, email: str, locale: str, labels: dict[str, str]):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(link)
    page.get_by_label(labels["password"], exact=True).fill(PASSWORD)
    page.get_by_label(labels["again"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=labels["save"]).click()
    page.wait_for_url(re.compile(r"/me$"))
    return context, page


def sign_out_and_in(page, email: str, labels: dict[str, str]) -> None:
    page.get_by_role("button", name=labels["signout"]).click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("navigation").get_by_role("link", name=labels["signin"]).click()
    page.get_by_label(labels["email"], exact=True).fill(email)
    page.get_by_label(labels["pw"], exact=True).fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name=labels["signin"]).click()
    page.wait_for_url(re.compile(r"/me$"))


FRENCH = {"password": "Nouveau mot de passe", "again": "Confirmez le nouveau mot de passe",
          "save": "Enregistrer et se connecter", "signout": "Se déconnecter", "signin": "Se connecter",
          "email": "Adresse e-mail", "pw": "Mot de passe"}
ENGLISH = {"password": "New password", "again": "New password, again", "save": "Save and sign in",
           "signout": "Sign out", "signin": "Sign in", "email": "E-mail address", "pw": "Password"}


def test_member_claims_in_french_and_reads_their_affiliations_in_both_languages(live_node, browser):
    live = live_node()
    member = seed_member(live.node.engine, affiliations=[SCHOOL_AFFILIATION])
    link = invite(live, member.id)
    context, page = claim_and_sign_in(browser, link, member.email, "fr-FR", FRENCH)
    try:
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_role("heading", name="Mes affiliations").is_visible()
        assert page.get_by_role("heading", name="Génie civil").is_visible()
        assert "Promotion" in page.content() and "Club robotique" in page.content()
        sign_out_and_in(page, member.email, FRENCH)
        page.get_by_role("link", name="EN", exact=True).click()
        page.wait_for_url(re.compile(r"/me$"))
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="My affiliations").is_visible()
        assert "Class of" in page.content() and "Programme" in page.content()
    finally:
        context.close()


def test_member_claims_in_english_and_reads_their_affiliations(live_node, browser):
    live = live_node(kind="company")
    member = seed_member(live.node.engine, email="bob@acme.example", given_name="Bob",
                        affiliations=[COMPANY_AFFILIATION])
    link = invite(live, member.id)
    context, page = claim_and_sign_in(browser, link, member.email, "en-GB", ENGLISH)
    try:
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="Data engineer").is_visible()
        assert "1 September 2019 – 30 June 2023" in page.content()
        sign_out_and_in(page, member.email, ENGLISH)
        assert page.get_by_role("heading", name="My affiliations").is_visible()
    finally:
        context.close()
