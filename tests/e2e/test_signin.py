"""Signing in and out over real HTTP: session rotation, redirects, look-alike e-mails, throttling, CSRF."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from nodes.storage.models import AuditEvent, LoginThrottle
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.movable_clock import MovableClock
from tests.seed import PASSWORD, seed_member

EMAIL = "admin@ecole.example"


def audit(live) -> list[AuditEvent]:
    with Session(live.node.engine) as db:
        return list(db.exec(select(AuditEvent).order_by(AuditEvent.id)))


def cookie_name(live) -> str:
    return "passerelle_" + live.url.rsplit(":", 1)[1]


def session_cookie(client) -> str:
    return next(value for name, value in client.cookies.items() if name.startswith("passerelle_"))


def is_signed_in(live, cookie: str) -> bool:
    with live.client(cookies={cookie_name(live): cookie}) as client:
        answer = client.get("/me", headers=HTML)
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def test_member_signs_in_with_email_and_password_and_sees_their_page(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        form = client.get("/signin", headers=HTML)
        assert 'autocomplete="username"' in form.text and 'autocomplete="current-password"' in form.text
        answer = sign_in(client, EMAIL, PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == "/me"
        assert client.get("/me", headers=HTML).status_code == 200
    events = [(e.action, e.detail) for e in audit(live)]
    assert events == [("auth.signin.ok", {"via": "password"})]


def test_wrong_password_shows_one_generic_message_and_signs_nobody_in(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client(headers={"Accept-Language": "en"}) as client:
        wrong = sign_in(client, EMAIL, "not the password at all")
        unknown = sign_in(client, "nobody@ecole.example", PASSWORD)
        assert client.get("/me", headers=HTML).status_code == 303
    for answer in (wrong, unknown):
        assert answer.status_code == 400
        assert "The e-mail address or the password is incorrect." in answer.text
        assert 'aria-describedby="signin-error"' in answer.text and 'role="alert"' in answer.text
    assert [e.action for e in audit(live)] == ["auth.signin.failed"] * 2
    assert all(PASSWORD not in repr(e) and "not the password" not in repr(e) for e in audit(live))


def test_unclaimed_account_cannot_sign_in(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=None)
    with live.client() as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 400


def test_me_sends_a_visitor_to_the_sign_in_page_and_back(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        answer = client.get("/me", headers=HTML)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/me"
        form = client.get(answer.headers["location"], headers=HTML)
        assert 'name="next" value="/me"' in form.text


def test_w1_session_id_is_rotated_on_sign_in_and_the_old_cookie_is_not_authenticated(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        client.get("/signin", headers=HTML)
        before = session_cookie(client)
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        after = session_cookie(client)
    assert before != after
    assert not is_signed_in(live, before), "the pre-login session id must not become authenticated"
    assert is_signed_in(live, after)


def test_signout_ends_the_session_for_good(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        sign_in(client, EMAIL, PASSWORD)
        cookie = session_cookie(client)
        page = client.get("/me", headers=HTML)
        answer = client.post("/signout", data={"csrf_token": csrf_of(page)}, headers=HTML)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert not is_signed_in(live, cookie)
    assert [e.action for e in audit(live)] == ["auth.signin.ok", "auth.signout"]


def test_signout_without_a_valid_csrf_token_is_refused_and_keeps_the_session(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        sign_in(client, EMAIL, PASSWORD)
        cookie = session_cookie(client)
        assert client.post("/signout", data={"csrf_token": "forged"}, headers=HTML).status_code == 403
        assert client.post("/signout", headers=HTML).status_code == 403
    assert is_signed_in(live, cookie)


def test_signin_with_a_forged_or_missing_csrf_token_is_refused_and_nothing_is_counted(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        client.get("/signin", headers=HTML)
        forged = client.post("/signin", data={"csrf_token": "x" * 43, "email": EMAIL, "password": "wrong"},
                             headers=HTML)
        missing = client.post("/signin", data={"email": EMAIL, "password": PASSWORD}, headers=HTML)
        assert client.get("/me", headers=HTML).status_code == 303
    assert forged.status_code == 403 and missing.status_code == 403
    with Session(live.node.engine) as db:
        assert db.exec(select(LoginThrottle)).all() == []
    assert audit(live) == []


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)", "\t//evil.example",
    "/\r\nLocation: https://evil.example", "https:/evil.example",
])
def test_w3_next_pointing_outside_the_site_is_refused(live_node, target):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        form = client.get("/signin", params={"next": target}, headers=HTML)
        assert 'name="next" value="/me"' in form.text
        answer = sign_in(client, EMAIL, PASSWORD, next=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/me"


def test_w3_next_within_the_site_is_followed(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        answer = sign_in(client, EMAIL, PASSWORD, next="/me?tab=credentials")
    assert answer.headers["location"] == "/me?tab=credentials"


@pytest.mark.parametrize("variant", ["Admin@ecole.example", "ADMIN@ECOLE.EXAMPLE", "\uff21dmin@ecole.example"])
def test_b2_case_and_compatibility_variants_reach_the_same_account(live_node, variant):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        assert sign_in(client, variant, PASSWORD).status_code == 303


@pytest.mark.parametrize("look_alike", ["\u0430dmin@ecole.example", "admin@\u0435cole.example"])
def test_b2_cyrillic_look_alike_never_reaches_the_account(live_node, look_alike):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        answer = sign_in(client, look_alike, PASSWORD)
        assert answer.status_code == 400
        assert client.get("/me", headers=HTML).status_code == 303


def test_b2_case_variants_share_one_lockout(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    variants = ["admin@ecole.example", "Admin@ecole.example", "ADMIN@ecole.example", "aDmin@Ecole.example"]
    with live.client() as client:
        for variant in variants:
            assert sign_in(client, variant, "wrong password!").status_code == 400
        assert sign_in(client, "AdMiN@ecole.example", "wrong password!").status_code == 429
        assert sign_in(client, EMAIL, PASSWORD).status_code == 429


def test_w6_repeated_wrong_passwords_lock_the_account_then_allow_it_again_after_the_back_off(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client(headers={"Accept-Language": "en"}) as client:
        for _ in range(4):
            assert sign_in(client, EMAIL, "wrong password!").status_code == 400
        locking = sign_in(client, EMAIL, "wrong password!")
        assert locking.status_code == 429 and locking.headers["retry-after"] == "60"
        clock.advance(seconds=30)
        locked = sign_in(client, EMAIL, PASSWORD)
        assert locked.status_code == 429, "while locked even the right password is refused, unchecked"
        assert locked.headers["retry-after"] == "30"
        assert "Too many unsuccessful attempts" in locked.text and 'role="alert"' in locked.text
        clock.advance(seconds=31)
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
    reasons = [e.detail.get("reason") for e in audit(live) if e.action == "auth.signin.failed"]
    assert reasons == ["bad_credentials"] * 5 + ["throttled"]


def test_w6_successful_sign_in_resets_the_account_counter(live_node):
    live = live_node()
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        for _ in range(4):
            sign_in(client, EMAIL, "wrong password!")
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
    with live.client() as client:
        for _ in range(4):
            assert sign_in(client, EMAIL, "wrong password!").status_code == 400


def test_w6_one_address_spraying_many_accounts_is_throttled(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    with live.client() as client:
        answers = [sign_in(client, f"user{i}@ecole.example", "Spring2026!!").status_code for i in range(20)]
        assert answers == [400] * 19 + [429]
        assert sign_in(client, EMAIL, PASSWORD).status_code == 429
        clock.advance(minutes=1, seconds=1)
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303


def test_typed_email_is_shown_back_escaped(live_node):
    live = live_node()
    with live.client() as client:
        answer = sign_in(client, '"><script>alert(1)</script>@x.example', "whatever password")
    assert answer.status_code == 400
    assert "<script>alert(1)</script>" not in answer.text and "&lt;script&gt;" in answer.text


def test_a_hash_made_with_older_argon2_parameters_still_signs_in_and_is_replaced_by_a_current_one(live_node):
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    from nodes.members import needs_rehash
    from nodes.storage.models import Member

    live = live_node()
    member = seed_member(live.node.engine, email=EMAIL, password=PASSWORD)
    older = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID).hash(PASSWORD)
    with Session(live.node.engine) as db:
        stored = db.get(Member, member.id)
        stored.password_hash = older
        db.add(stored)
        db.commit()
    assert needs_rehash(older)
    with live.client() as client:
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
    with Session(live.node.engine) as db:
        renewed = db.get(Member, member.id).password_hash
    assert renewed != older and renewed.startswith("$argon2id$v=19$m=7168,t=5,p=1$") and not needs_rehash(renewed)
    with live.client() as client:  # the new hash checks the same password
        assert sign_in(client, EMAIL, PASSWORD).status_code == 303
        assert sign_in(client, EMAIL, "not the password at all").status_code == 400
