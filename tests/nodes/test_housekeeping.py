"""Expired tokens, codes and sessions are deleted a day after they expired, and nothing a live grant or reuse
detection needs goes with them (nodes/housekeeping.py), on SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session, select
from typer.testing import CliRunner

from nodes.cli import app
from nodes.housekeeping import BATCH, purge_expired
from nodes.storage.models import LoginThrottle, WebSession
from nodes.storage.oidc_tables import OidcCode, OidcToken
from tests.e2e.browsing import sign_in
from tests.movable_clock import MovableClock
from tests.nodes import oidc_flow as flow
from tests.nodes.credential_support import context
from tests.nodes.oidc_flow import Pkce

OFFLINE = ("openid offline_access", ["offline_access"])


def _signed_in(live_node):
    clock = MovableClock()
    live = live_node(clock=clock)
    member = flow.member_with_password(live)
    platform = flow.register(live)
    return clock, live, platform, flow.browser(live, member.email)


def _sessions(node, expires_in: timedelta, count: int, now) -> list[str]:
    hashes = [hashlib.sha256(secrets.token_bytes(16)).hexdigest() for _ in range(count)]
    with node.engine.begin() as connection:
        connection.execute(insert(WebSession.__table__), [  # type: ignore[attr-defined]
            {"token_hash": h, "csrf_token": "x", "created_at": now, "expires_at": now + expires_in} for h in hashes])
    return hashes


def test_tokens_codes_and_sessions_go_a_day_after_they_expired_and_not_before(live_node):
    clock, live, platform, browser = _signed_in(live_node)
    flow.tokens_for(live, browser, platform)  # no refresh token: usable for the access token's 15 minutes
    node = context(live.node, clock)
    assert purge_expired(node).total == 0
    clock.advance(hours=24)  # the access token expired less than a day ago
    assert purge_expired(node).total == 0
    clock.advance(minutes=20)
    report = purge_expired(node)
    assert (report.tokens, report.codes, report.sessions) == (1, 1, 0)
    clock.advance(hours=12)  # the 12-hour browser session expired a day ago
    assert purge_expired(node).sessions == 1
    assert flow.count(live, OidcToken) == flow.count(live, OidcCode) == flow.count(live, WebSession) == 0


def test_a_live_refresh_token_keeps_its_row_and_works_after_a_purge(live_node):
    clock, live, platform, browser = _signed_in(live_node)
    tokens = flow.tokens_for(live, browser, platform, *OFFLINE)
    clock.advance(days=3)  # the access token expired long ago, the refresh token lives 30 days
    assert purge_expired(context(live.node, clock)).tokens == 0
    assert flow.count(live, OidcCode) == 1, "the code of the grant's first tokens stays"
    assert flow.refresh(live, platform, tokens["refresh_token"]).status_code == 200


def test_a_rotated_refresh_token_stays_until_its_own_expiry_so_its_reuse_still_revokes_the_family(live_node):
    clock, live, platform, browser = _signed_in(live_node)
    first = flow.tokens_for(live, browser, platform, *OFFLINE)
    clock.advance(days=2)
    rotated = flow.refresh(live, platform, first["refresh_token"]).json()
    clock.advance(days=2)
    purge_expired(context(live.node, clock))
    assert flow.count(live, OidcToken) == 2
    reused = flow.refresh(live, platform, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    refused = flow.refresh(live, platform, rotated["refresh_token"])
    assert refused.status_code == 400, "the reuse revoked the family"


def test_a_used_code_stays_while_its_tokens_exist_so_a_replay_still_revokes_them(live_node):
    clock, live, platform, browser = _signed_in(live_node)
    pkce = Pkce()
    code = flow.code_for(browser, platform, pkce, *OFFLINE)
    tokens = flow.redeem(live, platform, code, pkce).json()
    clock.advance(days=2)
    purge_expired(context(live.node, clock))
    assert flow.count(live, OidcCode) == 1
    assert flow.redeem(live, platform, code, pkce).status_code == 400
    assert flow.refresh(live, platform, tokens["refresh_token"]).status_code == 400, "the replay revoked them"


def test_a_family_s_rows_go_once_its_last_refresh_token_expired(live_node):
    clock, live, platform, browser = _signed_in(live_node)
    first = flow.tokens_for(live, browser, platform, *OFFLINE)
    clock.advance(days=10)
    flow.refresh(live, platform, first["refresh_token"])
    node = context(live.node, clock)
    clock.advance(days=22)  # the first refresh token expired more than a day ago, the rotated one lives on
    report = purge_expired(node)
    assert (report.tokens, report.codes) == (1, 1), "the first row and, no longer referenced, its code"
    assert flow.count(live, OidcToken) == 1
    clock.advance(days=10)  # the rotated one expired on day 40
    assert purge_expired(node).tokens == 1
    assert flow.count(live, OidcToken) == 0


def test_failure_counters_go_once_their_latest_failure_is_a_day_old(live_node):
    """A wrong password counts for the account and the address, a wrong client secret for the client at its
    address (nodes/throttle.py). A day after the latest failure the next one would start again at one, and any
    lock has passed: the rows go, so failures from ever new addresses cannot fill the table."""
    clock, live, platform, _ = _signed_in(live_node)
    assert sign_in(live.client(follow_redirects=False), "alice@ecole.example", "not the password").status_code != 303
    wrong = flow.Platform(platform.client_id, "nope", platform.redirect_uri, platform.auth_method)
    assert flow.token_request(live, wrong, {"grant_type": "refresh_token", "refresh_token": "x"}).status_code == 401
    assert flow.count(live, LoginThrottle) == 3
    node = context(live.node, clock)
    clock.advance(hours=23, minutes=59)
    assert purge_expired(node).failure_counters == 0
    clock.advance(minutes=2)
    assert purge_expired(node).failure_counters == 3
    assert flow.count(live, LoginThrottle) == 0


def test_more_rows_than_one_batch_are_all_deleted_and_live_ones_kept(make_node):
    node = make_node()
    ctx = context(node)
    now = ctx.clock()
    _sessions(node, timedelta(days=-2), BATCH * 2 + 7, now)
    live = _sessions(node, timedelta(hours=1), 3, now)
    assert purge_expired(ctx).sessions == BATCH * 2 + 7
    with Session(node.engine) as db:
        assert sorted(db.exec(select(WebSession.token_hash))) == sorted(live)


def test_passerelle_db_purge_reports_what_it_deleted(make_node):
    node = make_node()
    _sessions(node, timedelta(days=-2), 4, context(node).clock())
    result = CliRunner().invoke(app, ["-c", str(node.config_file), "db", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 0 tokens, 0 codes, 4 sessions" in result.output and "0 failure counters" in result.output
    assert flow.count(node, WebSession) == 0


def test_a_serving_node_purges_on_its_own(make_node):
    node = make_node()
    now = context(node).clock()
    _sessions(node, timedelta(days=-2), 5, now)
    live = _sessions(node, timedelta(hours=1), 1, now)
    passerelle = Path(sys.executable).parent / "passerelle"
    env = {**os.environ, "PASSERELLE_HOUSEKEEPING_INTERVAL_SECONDS": "1"}
    process = subprocess.Popen([str(passerelle), "-c", str(node.config_file), "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while flow.count(node, WebSession) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
    with Session(node.engine) as db:
        assert list(db.exec(select(WebSession.token_hash))) == live
