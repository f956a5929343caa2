"""Scopes, the ``claims`` request parameter and consent filtering (OpenID Connect Core §5.4, §5.5): pure functions."""

from __future__ import annotations

import json

import pytest

from federation.oidc.claims_request import ClaimsRequestError, parse_claims_request
from federation.oidc.consent import chosen, consent_receipt, consented, default_choices
from federation.oidc.scopes import narrowed_claims, released_names, requested_items


def test_scope_claims_are_voluntary_and_go_to_userinfo():
    items = requested_items("openid profile email", parse_claims_request(None))
    assert [i.name for i in items] == ["name", "given_name", "family_name", "email"]
    assert all(not i.essential and i.in_userinfo and not i.in_id_token for i in items)


def test_claims_parameter_marks_essential_claims_and_their_destination():
    request = parse_claims_request(json.dumps({"id_token": {"email": {"essential": True}},
                                               "userinfo": {"affiliations": None, "shoe_size": None}}))
    items = {i.name: i for i in requested_items("openid", request)}
    assert set(items) == {"email", "affiliations"}, "claims we do not offer are ignored"
    assert items["email"].essential and items["email"].in_id_token and not items["email"].in_userinfo
    assert not items["affiliations"].essential and items["affiliations"].in_userinfo


def test_email_verified_follows_email():
    request = parse_claims_request(json.dumps({"userinfo": {"email_verified": None}}))
    items = requested_items("openid", request)
    assert [i.name for i in items] == ["email"]
    assert released_names(items, {"email"}) == {"userinfo": ["email", "email_verified"], "id_token": []}


def test_offline_access_is_a_consent_item_but_never_a_claim():
    items = requested_items("openid offline_access", parse_claims_request(None))
    assert [i.name for i in items] == ["offline_access"]
    assert released_names(items, {"offline_access"}) == {"userinfo": [], "id_token": []}


def test_only_consented_claims_are_released():
    items = requested_items("openid profile email affiliations", parse_claims_request(None))
    assert released_names(items, {"email", "affiliations"}) == {
        "userinfo": ["email", "email_verified", "affiliations"], "id_token": []}
    assert released_names(items, set()) == {"userinfo": [], "id_token": []}


def test_a_recorded_claim_is_released_only_while_the_live_consent_grants_it():
    """What UserInfo and every ID token release: the recorded names the consent grants now, companions following
    their main claim."""
    recorded = ["name", "email", "email_verified"]
    assert consented(recorded, {"name", "email"}) == recorded
    assert consented(recorded, {"name", "offline_access"}) == ["name"]
    assert consented(["email_verified"], set()) == []


def test_a_narrowed_scope_drops_the_claims_of_the_scopes_it_leaves_out_but_not_those_asked_alone():
    """RFC 6749 §6: a refresh asking for less. ``name`` came with ``profile`` (and through the claims parameter):
    it goes with ``profile``; ``affiliations`` was asked alone through the claims parameter: it stays while
    ``openid`` does."""
    grant = {"userinfo": ["name", "email", "email_verified"], "id_token": ["name", "affiliations"]}
    granted = "openid profile email offline_access"
    assert narrowed_claims(grant, granted, "openid email") == {"userinfo": ["email", "email_verified"],
                                                               "id_token": ["affiliations"]}
    assert narrowed_claims(grant, granted, "openid profile") == {"userinfo": ["name"],
                                                                 "id_token": ["name", "affiliations"]}
    assert narrowed_claims(grant, granted, granted) == grant
    assert narrowed_claims(grant, granted, "email offline_access") == {"userinfo": [], "id_token": []}


def test_default_choices_tick_only_essential_items():
    request = parse_claims_request(json.dumps({"userinfo": {"email": {"essential": True}}}))
    items = requested_items("openid profile email", request)
    assert default_choices(items) == {"email"}


def test_default_choices_also_tick_what_the_live_consent_grants_among_the_items_asked():
    """The answer replaces the earlier choice for the items shown: an allowed item must open ticked, or clicking
    "Allow" would withdraw it. A remembered grant the request does not ask is not an item, so it is not ticked."""
    items = requested_items("openid profile email", parse_claims_request(None))
    assert default_choices(items, frozenset({"email", "affiliations"})) == {"email"}


def test_ticks_that_answer_nothing_asked_are_dropped():
    items = requested_items("openid email", parse_claims_request(None))
    assert chosen(items, ["email", "affiliations", "is_admin"]) == {"email"}


@pytest.mark.parametrize("raw", [
    "{", "[]", '"x"', '{"userinfo": []}', '{"userinfo": {"email": 3}}', '{"userinfo": {"email": {"essential": 1}}}',
    '{"id_token": {"email": {"values": "a"}}}', '{"userinfo": {"": null}}', json.dumps({"userinfo": {"x" * 101: None}}),
    json.dumps({"userinfo": {f"c{i}": None for i in range(51)}}), "{" + " " * 5000 + "}",
    '{"id_token": {"sub": {"value": 7}}}', '{"id_token": {"sub": {"value": ""}}}',
])
def test_malformed_claims_parameter_is_refused(raw):
    with pytest.raises(ClaimsRequestError):
        parse_claims_request(raw)


def test_a_sub_value_asked_for_the_id_token_names_the_member_the_request_is_for():
    assert parse_claims_request('{"id_token": {"sub": {"value": "s-1"}}}').subject == "s-1"
    assert parse_claims_request('{"userinfo": {"sub": {"value": "s-1"}}}').subject is None
    assert parse_claims_request('{"id_token": {"sub": null}}').subject is None


def test_consent_receipt_names_platform_claims_refusals_and_how_to_withdraw():
    from datetime import UTC, datetime

    receipt = consent_receipt(
        receipt_id="r1", issued_at=datetime(2026, 1, 2, tzinfo=UTC), controller="École", controller_url="https://e.x",
        platform="Hub", platform_policy=None, subject="pairwise-sub", granted=["email", "offline_access"],
        refused=["name"],
    )
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["piiCategory"] == ["email"] and purpose["refused"] == ["name"] and purpose["offlineAccess"]
    assert purpose["termination"] == "https://e.x/me/platforms" and purpose["credentials"] == {}
    assert receipt["piiPrincipalId"] == "pairwise-sub" and receipt["consentTimestamp"] == 1767312000


def test_a_receipt_with_affiliations_lists_the_name_the_credentials_show_instead_of_refusing_it():
    """The affiliation credentials name the member (``credentialSubject.name``) whatever else was ticked: the
    receipt says the credentials show the name, and ``refused`` keeps only what the platform does not receive."""
    from datetime import UTC, datetime

    receipt = consent_receipt(
        receipt_id="r1", issued_at=datetime(2026, 1, 2, tzinfo=UTC), controller="École", controller_url="https://e.x",
        platform="Hub", platform_policy=None, subject="pairwise-sub", granted=["affiliations"],
        refused=["name", "given_name", "family_name", "email"],
    )
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["piiCategory"] == ["affiliations"] and purpose["refused"] == ["email"]
    shown = ["family_name", "given_name", "name"]  # the full name is the given and the family name
    assert purpose["credentials"] == {"affiliations": {"shows": shown, "sameForEveryPlatform": True}}
