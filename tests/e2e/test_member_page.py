"""The member's own page lists their affiliations in the page language."""

from __future__ import annotations

from datetime import date

from tests.e2e.browsing import HTML, sign_in
from tests.seed import COMPANY_AFFILIATION, PASSWORD, SCHOOL_AFFILIATION, seed_member


def test_me_lists_school_and_company_affiliations_in_french(live_node):
    live = live_node()
    seed_member(live.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION, COMPANY_AFFILIATION])
    with live.client(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        page = client.get("/me", headers=HTML)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert '<html lang="fr">' in text and "Mes affiliations" in text
    for expected in ("Formation", "Génie civil", "Diplôme", "Master", "Promotion", "2018",
                     "Association des anciens, Club robotique", "Poste", "Data engineer", "Service", "R&amp;D",
                     "1er septembre 2019 – 30 juin 2023"):
        assert expected in text, expected


def test_me_lists_affiliations_in_english_after_the_language_switch(live_node):
    live = live_node(kind="company")
    ongoing = {**COMPANY_AFFILIATION, "end_date": None, "start_date": date(2021, 3, 15)}
    seed_member(live.node.engine, password=PASSWORD, affiliations=[ongoing])
    with live.client(headers={"Accept-Language": "fr"}) as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        switched = client.get("/lang/en", params={"next": "/me"}, headers=HTML)
        assert switched.headers["location"] == "/me"
        page = client.get("/me", headers=HTML)
    assert '<html lang="en">' in page.text and "My affiliations" in page.text
    assert "Role" in page.text and "Department" in page.text and "15 March 2021 – present" in page.text


def test_me_says_so_when_no_affiliation_is_recorded(live_node):
    live = live_node()
    seed_member(live.node.engine, password=PASSWORD)
    with live.client(headers={"Accept-Language": "en"}) as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        page = client.get("/me", headers=HTML)
    assert "No affiliation is recorded for you yet." in page.text


def test_me_shows_only_the_signed_in_members_affiliations(live_node):
    live = live_node()
    seed_member(live.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION])
    seed_member(live.node.engine, email="bob@ecole.example", given_name="Bob", password=PASSWORD,
                affiliations=[{**SCHOOL_AFFILIATION, "programme": "Chimie"}])
    with live.client() as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        page = client.get("/me", headers=HTML)
    assert "Génie civil" in page.text and "Chimie" not in page.text


def test_me_answers_401_to_an_api_client_that_is_not_signed_in(live_node):
    live = live_node()
    with live.client() as client:
        answer = client.get("/me", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and answer.json()["error"] == "login_required"
