"""A disconnection racing the platform's own token request, on PostgreSQL (READ COMMITTED, many writers).

Each test holds the platform's request inside the statement that writes what it obtained (a token, a code): a
trigger sleeps in the insert (a real pause inside the database; no project code is replaced). The member
disconnects the platform while the request waits there, after it has read the consent as live. Nothing the request
obtains may work, either then or after the member connects the platform again (Consent.connection, ADR 0100).
Holding a statement needs a database that can sleep in a trigger, and several writers at once: PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from nodes.storage.models import AuditEvent
from nodes.storage.oidc_tables import OidcGrant
from tests.conftest import database_kind
from tests.e2e.browsing import HTML
from tests.nodes import oidc_flow as flow
from tests.nodes.oidc_flow import Pkce
from tests.nodes.test_oidc_token import assert_oauth_error, introspect

pytestmark = pytest.mark.skipif(database_kind() != "postgres", reason="races between PostgreSQL's writers")

HOLD_SECONDS = 2


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, name="Alumni Hub")
    return live, platform, flow.browser(live, member.email)


@contextmanager
def inserts_held(engine, table: str = "oidc_token", seconds: int = HOLD_SECONDS) -> Iterator[None]:
    """Every insert into ``table`` sleeps ``seconds`` inside its statement (a trigger)."""
    with engine.begin() as db:
        db.execute(text("CREATE FUNCTION hold_insert() RETURNS trigger LANGUAGE plpgsql AS "
                        f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"))
        db.execute(text(f"CREATE TRIGGER hold_insert BEFORE INSERT ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION hold_insert()"))
    try:
        yield
    finally:
        with engine.begin() as db:
            db.execute(text(f"DROP TRIGGER hold_insert ON {table}"))
            db.execute(text("DROP FUNCTION hold_insert()"))


def _wait_for(engine, condition: str, what: str) -> None:
    """Until a backend of the node's database matches ``condition`` (a ``pg_stat_activity`` predicate)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as db:
            if db.execute(text(f"SELECT count(*) FROM pg_stat_activity "
                               f"WHERE datname = current_database() AND {condition}")).scalar():
                return
        time.sleep(0.02)
    raise AssertionError(f"never saw {what}")


def _wait_until_held(engine) -> None:
    _wait_for(engine, "wait_event = 'PgSleep'", "the platform's request reach the held insert")


def disconnect_during(live, browser, platform, request: Callable[[], httpx.Response],
                      table: str = "oidc_token") -> httpx.Response:
    """Start ``request``, disconnect the platform while its insert into ``table`` is held, and return its
    response."""
    engine = live.node.engine
    with inserts_held(engine, table), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(request)
        _wait_until_held(engine)
        assert flow.disconnect(browser, platform).status_code == 303
        response = pending.result()
    return response


def assert_dead(live, platform, tokens: dict) -> None:
    """Refused wherever the platform could use them."""
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401
    assert introspect(live, platform, tokens["access_token"]) == {"active": False}
    if "refresh_token" in tokens:
        assert_oauth_error(flow.refresh(live, platform, tokens["refresh_token"]), 400, "invalid_grant")


def connect_again(live, browser, platform, scope: str, ticked: list[str]) -> None:
    again = flow.tokens_for(live, browser, platform, scope, ticked)
    assert flow.userinfo(live, again["access_token"]).status_code == 200


def test_tokens_of_a_code_redeemed_during_a_disconnection_never_work(setup):
    """The redemption read the live consent before the disconnection and commits its token after it."""
    live, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid email", ["email"])
    redeemed = disconnect_during(live, browser, platform, lambda: flow.redeem(live, platform, code, pkce))
    assert redeemed.status_code == 200, "the redemption marked its code first: it won the race"
    assert_dead(live, platform, redeemed.json())
    connect_again(live, browser, platform, "openid email", ["email"])
    assert_dead(live, platform, redeemed.json())


def test_a_token_rotated_during_a_disconnection_never_works_even_after_the_member_connects_again(setup):
    """The rotation commits its new token after the disconnection has listed the tokens to revoke. The token is
    refused while the platform is disconnected, and still after the member connects it again: reviving the
    consent row does not revive the connection the token belongs to."""
    live, platform, browser = setup
    scope, ticked = "openid email offline_access", ["email", "offline_access"]
    tokens = flow.tokens_for(live, browser, platform, scope, ticked)
    rotated = disconnect_during(live, browser, platform,
                                lambda: flow.refresh(live, platform, tokens["refresh_token"]))
    assert rotated.status_code == 200, "the rotation marked the old token first: it won the race"
    assert_dead(live, platform, rotated.json())
    connect_again(live, browser, platform, scope, ticked)
    assert_dead(live, platform, rotated.json())


def test_a_code_issued_during_a_disconnection_is_refused_after_the_member_connects_again(setup):
    """The authorization request found the consent live (no consent page) and stores its code after the
    disconnection committed; the member connects the platform again within the code's minute."""
    live, platform, browser = setup
    flow.code_for(browser, platform, Pkce(), "openid email", ["email"])  # the consent, remembered
    pkce = Pkce()
    params = flow.auth_params(platform, pkce, "openid email")
    issued = disconnect_during(live, browser, platform, lambda: browser.get("/authorize", params=params),
                               table="oidc_code")
    assert issued.status_code == 302, "the request read the live consent before the disconnection"
    late_code = flow.query_of(issued.headers["location"])["code"]
    connect_again(live, browser, platform, "openid email", ["email"])
    assert_oauth_error(flow.redeem(live, platform, late_code, pkce), 400, "invalid_grant")


def test_a_consent_answered_during_a_disconnection_does_not_revive_what_it_revoked(setup):
    """The consent form read the live consent; its choice is saved after the disconnection committed (it waits
    on the consent row the disconnection holds). The consent is live again, but as a new connection: a token
    the disconnection could not reach stays refused. The code of that form is refused too (it was meant for the
    connection the member revoked meanwhile); the platform's next request gets a working one."""
    live, platform, browser = setup
    scope, ticked = "openid email offline_access", ["email", "offline_access"]
    tokens = flow.tokens_for(live, browser, platform, scope, ticked)
    pkce = Pkce()
    page = browser.get("/authorize", params=flow.auth_params(platform, pkce, scope, prompt="consent"),
                       headers=HTML)
    engine = live.node.engine
    with inserts_held(engine, seconds=2 * HOLD_SECONDS), ThreadPoolExecutor(3) as pool:
        rotation = pool.submit(flow.refresh, live, platform, tokens["refresh_token"])
        _wait_until_held(engine)
        disconnection = pool.submit(flow.disconnect, browser, platform)
        _wait_for(engine, "wait_event_type = 'Lock'", "the disconnection wait for the rotation")
        answer = pool.submit(flow.consent, browser, page, ticked)
        _wait_for(engine, "wait_event_type = 'Lock' AND query LIKE '%INSERT INTO oidc_consent%'",
                  "the consent wait for the disconnection")
        rotated, disconnected, answered = rotation.result(), disconnection.result(), answer.result()
    assert rotated.status_code == 200 and disconnected.status_code == 303 and answered.status_code == 302
    assert_dead(live, platform, rotated.json())
    late_code = flow.query_of(answered.headers["location"])["code"]
    assert_oauth_error(flow.redeem(live, platform, late_code, pkce), 400, "invalid_grant")
    connect_again(live, browser, platform, scope, ticked)
    assert_dead(live, platform, rotated.json())


def test_two_disconnections_at_once_disconnect_once(setup):
    """A double click on "Disconnect": the second request waits for the first (the consent row is locked), then
    finds nothing connected. One history line, one audit event."""
    live, platform, browser = setup
    flow.tokens_for(live, browser, platform, "openid email", ["email"])
    engine = live.node.engine
    with inserts_held(engine, "oidc_grant"), ThreadPoolExecutor(2) as pool:
        first = pool.submit(flow.disconnect, browser, platform)
        _wait_until_held(engine)
        second = pool.submit(flow.disconnect, browser, platform)
        _wait_for(engine, "wait_event_type = 'Lock'", "the second disconnection wait for the first")
        assert first.result().status_code == second.result().status_code == 303
    with Session(engine) as db:
        lines = db.exec(select(OidcGrant).where(OidcGrant.kind == "disconnected")).all()
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "oidc.platform.revoked")).all()
    assert len(lines) == len(events) == 1


def test_two_consent_forms_answered_at_once_both_give_working_codes(setup):
    """Two tabs ask the member's first consent and are answered together: both saves wait in the upsert, one inserts
    the consent, the other finds it live and keeps its connection. Each code must go under the connection the
    consent holds, not under the one its form drew."""
    live, platform, browser = setup
    forms = []
    for _ in range(2):
        pkce = Pkce()
        page = browser.get("/authorize", params=flow.auth_params(platform, pkce, "openid email"), headers=HTML)
        forms.append((pkce, page))
    engine = live.node.engine
    with inserts_held(engine, "oidc_consent"), ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(flow.consent, browser, page, ["email"]) for _, page in forms]
        redirects = [answer.result() for answer in answers]
    for (pkce, _), redirect in zip(forms, redirects, strict=True):
        assert redirect.status_code == 302
        code = flow.query_of(redirect.headers["location"])["code"]
        response = flow.redeem(live, platform, code, pkce)
        assert response.status_code == 200, response.text
