"""A disconnection racing the platform's own token request, on PostgreSQL (READ COMMITTED, many writers).

Each test holds the platform's request inside its single statement, after the statement has marked its code or
refresh token used and before it commits the new token: a trigger on ``oidc_token`` sleeps in the insert (a real
pause inside the database; no project code is replaced). The member disconnects the platform while the request
waits there, so the request wins the race for its code or token. No token it gets may work, either then or after
the member connects the platform again. SQLite runs one writer at a time (the node's write lock), so there is no
such race on SQLite.
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

from nodes.storage.oidc_tables import OidcToken
from tests.conftest import database_kind
from tests.nodes import oidc_flow as flow
from tests.nodes.oidc_flow import Pkce
from tests.nodes.test_oidc_token import assert_oauth_error

pytestmark = pytest.mark.skipif(database_kind() != "postgres", reason="races between PostgreSQL's writers")

HOLD_SECONDS = 2


@pytest.fixture
def setup(live_node):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, name="Alumni Hub")
    return live, platform, flow.browser(live, member.email)


@contextmanager
def token_inserts_held(engine) -> Iterator[None]:
    with engine.begin() as db:
        db.execute(text("CREATE FUNCTION hold_insert() RETURNS trigger LANGUAGE plpgsql AS "
                        f"$$ BEGIN PERFORM pg_sleep({HOLD_SECONDS}); RETURN NEW; END $$"))
        db.execute(text("CREATE TRIGGER hold_token_insert BEFORE INSERT ON oidc_token "
                        "FOR EACH ROW EXECUTE FUNCTION hold_insert()"))
    try:
        yield
    finally:
        with engine.begin() as db:
            db.execute(text("DROP TRIGGER hold_token_insert ON oidc_token"))
            db.execute(text("DROP FUNCTION hold_insert()"))


def _wait_until_held(engine) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as db:
            if db.execute(text("SELECT count(*) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND wait_event = 'PgSleep'")).scalar():
                return
        time.sleep(0.02)
    raise AssertionError("the platform's request never reached the held insert")


def disconnect_during(live, browser, platform, request: Callable[[], httpx.Response]) -> httpx.Response:
    """Start ``request``, disconnect the platform while its statement is held, and return its response."""
    engine = live.node.engine
    with token_inserts_held(engine), ThreadPoolExecutor(1) as pool:
        pending = pool.submit(request)
        _wait_until_held(engine)
        assert flow.disconnect(browser, platform).status_code == 303
        response = pending.result()
    return response


def test_tokens_of_a_code_redeemed_during_a_disconnection_are_revoked_with_it(setup):
    """The disconnection deletes the codes not yet redeemed before it lists the tokens. The redemption holds its
    code's row, so the delete waits for the redemption's token and the listing sees it. Without the delete, the
    listing ran before the token was committed and the token stayed unrevoked."""
    live, platform, browser = setup
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, "openid email", ["email"])
    redeemed = disconnect_during(live, browser, platform, lambda: flow.redeem(live, platform, code, pkce))
    assert redeemed.status_code == 200, "the redemption marked its code first: it won the race"
    assert flow.userinfo(live, redeemed.json()["access_token"]).status_code == 401
    with Session(live.node.engine) as db:
        tokens = db.exec(select(OidcToken)).all()
    assert len(tokens) == 1 and tokens[0].revoked_at is not None


def test_a_token_rotated_during_a_disconnection_never_works_even_after_the_member_connects_again(setup):
    """The rotation commits its new token after the disconnection has listed the tokens to revoke. That token is
    dead while the consent is revoked. The next consent revokes what is left, because reviving the consent would
    otherwise revive the token."""
    live, platform, browser = setup
    scope, ticked = "openid email offline_access", ["email", "offline_access"]
    tokens = flow.tokens_for(live, browser, platform, scope, ticked)
    rotated = disconnect_during(live, browser, platform,
                                lambda: flow.refresh(live, platform, tokens["refresh_token"]))
    assert rotated.status_code == 200, "the rotation marked the old token first: it won the race"
    left_over = rotated.json()
    assert flow.userinfo(live, left_over["access_token"]).status_code == 401
    again = flow.tokens_for(live, browser, platform, scope, ticked)
    assert flow.userinfo(live, again["access_token"]).status_code == 200
    assert flow.userinfo(live, left_over["access_token"]).status_code == 401
    assert_oauth_error(flow.refresh(live, platform, left_over["refresh_token"]), 400, "invalid_grant")
