"""SECURITY X5: the database becomes unavailable under a running node, then comes back.

For every fault: a write answers 503 with ``Retry-After`` and JSON ``temporarily_unavailable`` (a readable page for
browsers), ``/readyz`` fails while ``/healthz`` passes, the failed request stored nothing, and the node recovers by
itself once the fault is gone; on SQLite ``PRAGMA integrity_check`` is clean afterwards. The faults themselves are
in :mod:`tests.e2e.faults`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from nodes.storage.db import make_engine
from tests.conftest import database_kind, free_port
from tests.e2e import faults
from tests.e2e.faults import HTML, JSON, app_engines, integrity, session_count, write_attempt
from tests.nodes import oidc_flow as flow

sqlite_only = pytest.mark.skipif(database_kind() != "sqlite", reason="SQLite fault")
postgres_only = pytest.mark.skipif(database_kind() != "postgres", reason="PostgreSQL fault")


def assert_unavailable(answer) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    body = answer.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["error_description"] and "Traceback" not in answer.text and "SQL" not in answer.text
    assert "set-cookie" not in answer.headers, "no cookie for a session that was not stored"


def assert_unavailable_page(answer) -> None:
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"].startswith("text/html")
    assert "The service is temporarily unavailable" in answer.text
    assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()


def probes(live) -> tuple[int, int]:
    with live.client() as client:
        return client.get("/healthz").status_code, client.get("/readyz").status_code


def wait_until_ready(live, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while probes(live) != (200, 200):
        assert time.monotonic() < deadline, "the node did not recover by itself"
        time.sleep(0.2)


def access_token(live) -> str:
    """An access token of a member at a platform, for UserInfo requests during a fault."""
    member = flow.member_with_password(live)
    return flow.tokens_for(live, flow.browser(live, member.email), flow.register(live), "openid profile",
                           ["given_name"])["access_token"]


def assert_userinfo_unavailable(live, token: str) -> None:
    """UserInfo (read ahead, coalesced, on a pool of its own: nodes/oidc/token_reads.py) fails as writes do."""
    with live.client(headers=JSON) as client:
        assert_unavailable(client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}))


def assert_recovered(live, engine, stored_before: int) -> None:
    """No restart: the same node becomes ready again and stores the next write."""
    wait_until_ready(live)
    answer = write_attempt(live)
    assert answer.status_code == 303 and "set-cookie" in answer.headers
    assert session_count(engine) == stored_before + 1


@sqlite_only
def test_x5_sqlite_locked_by_another_process_answers_503_then_recovers(live_node):
    live = live_node(database_timeout_seconds=0.5)
    engine = live.node.engine
    token = access_token(live)
    stored = session_count(engine)
    with faults.sqlite_locked_by_another_process(faults.sqlite_path(engine)):
        started = time.monotonic()
        assert_unavailable(write_attempt(live))
        assert time.monotonic() - started < 4, "the wait for the lock is bounded by database_timeout_seconds"
        assert_unavailable_page(write_attempt(live, HTML))
        assert probes(live) == (200, 503)
        assert session_count(engine) == stored, "readers still work under the lock; nothing was stored"
        assert flow.userinfo(live, token).json()["given_name"], "UserInfo only reads: it still answers"
    assert_recovered(live, engine, stored)
    assert integrity(engine) == "ok"


def refresh_tokens(live, email: str = "bob@ecole.example") -> tuple[flow.Platform, str]:
    """A platform and a refresh token it holds (for a member of its own: ``access_token`` signs in another)."""
    member = flow.member_with_password(live, email)
    platform = flow.register(live)
    tokens = flow.tokens_for(live, flow.browser(live, member.email), platform, "openid offline_access",
                            ["offline_access"])
    return platform, tokens["refresh_token"]


@sqlite_only
def test_x5_sqlite_lock_held_elsewhere_never_stalls_the_event_loop_and_a_refresh_grant_waits_in_a_thread(live_node):
    """SQLite's token endpoint answers on the event loop (ADR 0600), where nothing may wait. Under another process's
    write lock a refresh grant goes back to a worker thread (nothing written) and waits there: the event loop keeps
    answering meanwhile, and once the lock is gone the grant succeeds, with the token spent once."""
    live = live_node(database_timeout_seconds=5)
    platform, token = refresh_tokens(live)
    with ThreadPoolExecutor(1) as pool:
        with faults.sqlite_locked_by_another_process(faults.sqlite_path(live.node.engine)):
            grant = pool.submit(flow.refresh, live, platform, token)
            time.sleep(0.3)  # the grant is now waiting on the lock
            assert not grant.done()
            started = time.monotonic()
            with live.client() as client:
                assert client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 0.25, "the event loop answered while the grant waited"
            time.sleep(0.2)
        answer = grant.result(timeout=10)
    assert answer.status_code == 200, answer.text
    assert flow.refresh(live, platform, answer.json()["refresh_token"]).status_code == 200
    assert flow.refresh(live, platform, token).json()["error"] == "invalid_grant", "the first token was spent once"


@sqlite_only
def test_x5_sqlite_refresh_grant_refused_under_a_lock_spends_nothing(live_node):
    """The grant tried on the event loop, then in a thread until the database timeout: 503, and the token is
    still good afterwards (neither attempt wrote)."""
    live = live_node(database_timeout_seconds=0.5)
    platform, token = refresh_tokens(live)
    with faults.sqlite_locked_by_another_process(faults.sqlite_path(live.node.engine)):
        assert_unavailable(flow.refresh(live, platform, token))
    answer = flow.refresh(live, platform, token)
    assert answer.status_code == 200, answer.text


@sqlite_only
def test_x5_sqlite_read_only_database_answers_503_then_recovers(live_node):
    live = live_node()
    engine = live.node.engine
    stored = session_count(engine)
    with faults.sqlite_read_only(app_engines(live)):
        assert_unavailable(write_attempt(live))
        assert_unavailable_page(write_attempt(live, HTML))
        assert probes(live) == (200, 503)
        with live.client(headers=JSON) as client:
            assert client.get("/.well-known/did.json").status_code == 200, "reads keep working"
    assert session_count(engine) == stored
    assert_recovered(live, engine, stored)
    assert integrity(engine) == "ok"


@sqlite_only
def test_x5_sqlite_file_that_may_not_grow_answers_503_then_recovers(live_node):
    """A full disk as SQLite sees it: ``max_page_count`` pinned to the file's size on every node connection.

    Writes that still fit in free space succeed; the first one that needs a new page must fail cleanly. Whether a
    given row needs a new page depends on its key, so readiness is checked by the real full-disk test below.
    """
    live = live_node()
    engine = live.node.engine
    with engine.connect() as connection:
        pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
    with faults.sqlite_file_may_not_grow(app_engines(live), pages):
        for _ in range(500):
            stored = session_count(engine)
            answer = write_attempt(live)
            if answer.status_code != 303:
                break
            assert session_count(engine) == stored + 1
        else:
            pytest.fail("the file never filled up")
        assert_unavailable(answer)
        assert session_count(engine) == stored, "the refused write stored nothing"
        assert faults.sqlite_path(engine).stat().st_size <= pages * 4096
        assert probes(live)[0] == 200
    assert_recovered(live, engine, stored)
    assert integrity(engine) == "ok"


@sqlite_only
@pytest.mark.skipif(not faults.can_mount(), reason="mounting a small tmpfs needs root on Linux")
def test_x5_sqlite_disk_full_answers_503_fails_readiness_then_recovers(tmp_path, live_node):
    with faults.small_file_system(tmp_path / "disk") as disk:
        live = live_node(data_dir=str(disk / "node"))
        engine = live.node.engine
        filler = faults.fill(disk)
        for _ in range(500):
            stored = session_count(engine)
            answer = write_attempt(live)
            if answer.status_code != 303:
                break
        else:
            pytest.fail("the disk never filled up")
        assert_unavailable(answer)
        assert session_count(engine) == stored
        assert probes(live) == (200, 503)
        filler.unlink()
        assert_recovered(live, engine, stored)
        assert integrity(engine) == "ok"
        live.stop()
        engine.dispose()
        for pool in app_engines(live):
            pool.dispose()


@postgres_only
def test_x5_postgres_unreachable_answers_503_then_recovers(make_node, postgres):
    from tests.conftest import serve

    url = postgres.new()
    proxy = faults.TcpProxy(faults.postgres_target(url)).open()
    node = make_node(database_url=faults.proxied_url(url, proxy), database_timeout_seconds=2, port=free_port())
    live = serve(node)
    direct = make_engine(url)
    try:
        token = access_token(live)
        platform, refresh_token = refresh_tokens(live)
        stored = session_count(direct)
        proxy.close()  # the port is closed and every open connection is cut, as when the server stops
        assert_unavailable(write_attempt(live))
        assert_unavailable_page(write_attempt(live, HTML))
        assert_userinfo_unavailable(live, token)
        assert_unavailable(flow.refresh(live, platform, refresh_token))  # its token read ahead, coalesced, fails
        assert probes(live) == (200, 503)
        assert session_count(direct) == stored
        proxy.open()  # the server is back on the same port
        assert_recovered(live, direct, stored)
        assert flow.userinfo(live, token).status_code == 200
        assert flow.refresh(live, platform, refresh_token).status_code == 200, "the token was not spent"
    finally:
        live.stop()
        proxy.close()
        direct.dispose()


@postgres_only
def test_x5_postgres_refusing_connections_answers_503_then_recovers(live_node, postgres):
    live = live_node()
    engine = live.node.engine
    token = access_token(live)
    platform, refresh_token = refresh_tokens(live)
    stored = session_count(engine)
    database = engine.url.database
    assert database
    with faults.postgres_refusing_connections(postgres.admin, database):
        assert_unavailable(write_attempt(live))
        assert_userinfo_unavailable(live, token)
        assert_unavailable(flow.refresh(live, platform, refresh_token))
        assert probes(live) == (200, 503)
    assert_recovered(live, engine, stored)
    assert flow.userinfo(live, token).status_code == 200
    assert flow.refresh(live, platform, refresh_token).status_code == 200, "the token was not spent"
