"""SQLite's token endpoint answers on the event loop (ADR 0600), where nothing may wait.

A store call that would wait (this process's write lock held by another thread, or a write through the ORM
session, which waits on SQLite's busy timeout) raises ``WouldBlock`` before anything is written; the route then
runs the request again in a worker thread. Another process's lock is covered by the X5 fault tests
(tests/e2e/test_faults.py).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import Session, select

from federation.oidc.http import HttpRequest
from federation.oidc.models import secret_hash
from nodes.oidc.node_provider import build_provider, one_session
from nodes.oidc.store import client_throttle_key
from nodes.storage.direct import WouldBlock
from nodes.storage.models import LoginThrottle
from tests.conftest import database_kind
from tests.nodes import oidc_flow as flow

pytestmark = pytest.mark.skipif(database_kind() != "sqlite", reason="only SQLite answers on the event loop")


@pytest.fixture
def granted(live_node):
    """A node, the core's provider on the node's own context, a platform and a refresh token it holds."""
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live)
    tokens = flow.tokens_for(live, flow.browser(live, member.email), platform, "openid offline_access",
                             ["offline_access"])
    node = flow.node_context(live)
    return live, node, build_provider(node), platform, tokens["refresh_token"]


def _form_request(live, platform, path: str, form: list[tuple[str, str]], secret: str | None = None) -> HttpRequest:
    """A form POST to the provider core from the platform's address, authenticated with HTTP Basic."""
    basic = base64.b64encode(f"{platform.client_id}:{secret or platform.secret}".encode()).decode()
    return HttpRequest("POST", f"{live.url}{path}", {
        "authorization": f"Basic {basic}", "content-type": "application/x-www-form-urlencoded",
    }, (), form, peer=flow.PLATFORM_ADDRESS)


def grant_request(live, platform, refresh_token: str, secret: str | None = None) -> HttpRequest:
    return _form_request(live, platform, "/token", [("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
                         secret)


def introspection_request(live, platform, token: str) -> HttpRequest:
    return _form_request(live, platform, "/introspect", [("token", token)])


def failures_counted(live, platform) -> int:
    """The failures counted from the address every request of these tests comes from."""
    with Session(live.node.engine) as db:
        rows = db.exec(select(LoginThrottle).where(LoginThrottle.key.startswith(  # type: ignore[attr-defined]
            client_throttle_key(platform.client_id, "")))).all()
        assert {row.key for row in rows} <= {client_throttle_key(platform.client_id, flow.PLATFORM_ADDRESS)}
        return sum(row.failures for row in rows)


@contextmanager
def write_lock_held_elsewhere(node) -> Iterator[None]:
    """Another thread holds the node's write lock inside the block."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with node.direct_reads.write_lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(5)
        yield
    finally:
        release.set()
        holder.join()


def test_a_write_lock_held_by_another_thread_hands_the_grant_back_with_nothing_written(granted):
    live, node, provider, platform, token = granted
    with write_lock_held_elsewhere(node), pytest.raises(WouldBlock), \
            one_session(provider, secret_hash(token), on_loop=True, address=flow.PLATFORM_ADDRESS):
        provider.token(grant_request(live, platform, token))
    answer = flow.refresh(live, platform, token)
    assert answer.status_code == 200, "the token was not spent by the attempt on the loop"


def test_the_same_grant_on_the_loop_with_the_lock_free_rotates_the_token(granted):
    live, _, provider, platform, token = granted
    with one_session(provider, secret_hash(token), on_loop=True, address=flow.PLATFORM_ADDRESS):
        answer = provider.token(grant_request(live, platform, token))
    assert answer.status == 200 and answer.body["refresh_token"] != token
    assert flow.refresh(live, platform, token).json()["error"] == "invalid_grant", "rotated: the old token is spent"


def test_a_failed_client_authentication_is_handed_back_before_it_is_counted(granted):
    """The failure is counted through the ORM session: on the loop the request goes back before counting, and
    over HTTP (loop, then thread) it is counted once."""
    live, _, provider, platform, token = granted
    with pytest.raises(WouldBlock), one_session(provider, secret_hash(token), on_loop=True,
                                                address=flow.PLATFORM_ADDRESS):
        provider.token(grant_request(live, platform, token, secret="wrong"))
    assert failures_counted(live, platform) == 0
    with live.client() as http:
        answer = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           auth=(platform.client_id, "wrong"))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert failures_counted(live, platform) == 1
    assert flow.refresh(live, platform, token).status_code == 200, "the token was not spent"


def test_a_success_without_a_failure_counter_writes_nothing(granted):
    """The lock's read tells whether the address has a counter: with none, a client's success clears nothing, so
    an introspection (which writes nothing else) is answered on the loop while another thread holds the write
    lock."""
    live, node, provider, platform, token = granted
    with write_lock_held_elsewhere(node), one_session(provider, on_loop=True, address=flow.PLATFORM_ADDRESS):
        answer = provider.introspect(introspection_request(live, platform, token))
    assert answer.status == 200 and answer.body["active"] is True


def test_a_success_with_a_failure_counter_clears_it_once(granted):
    """With a counter at its address, the client's success deletes it; on the loop that write is only tried, and a
    lock held elsewhere hands the request back (the delete may run twice: nothing else was written)."""
    live, node, provider, platform, token = granted
    with live.client() as http:
        assert http.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                         auth=(platform.client_id, "wrong")).status_code == 401
    assert failures_counted(live, platform) == 1
    with (write_lock_held_elsewhere(node), pytest.raises(WouldBlock),
          one_session(provider, on_loop=True, address=flow.PLATFORM_ADDRESS)):
        provider.introspect(introspection_request(live, platform, token))
    assert failures_counted(live, platform) == 1, "nothing was written on the loop"
    with one_session(provider, on_loop=True, address=flow.PLATFORM_ADDRESS):
        assert provider.introspect(introspection_request(live, platform, token)).status == 200
    assert failures_counted(live, platform) == 0
