"""Direct statements (nodes/storage/direct.py) give what SQLAlchemy gives, write what it writes, and survive a
connection that died while pooled. On SQLite, and on PostgreSQL in the PostgreSQL run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from nodes.context import NodeContext
from nodes.oidc.clients import ClientRegistration, register_client
from nodes.oidc.store import _AFFILIATIONS_OF, _CLIENT, _MEMBER
from nodes.storage.direct import DirectBatch, DirectReads, DirectStatement
from nodes.storage.models import Member
from nodes.storage.oidc_tables import OidcToken
from tests.nodes.credential_support import context
from tests.seed import COMPANY_AFFILIATION, SCHOOL_AFFILIATION, seed_member

_TOKENS = OidcToken.__table__  # type: ignore[attr-defined]
_MEMBERS = Member.__table__  # type: ignore[attr-defined]


def through_sqlalchemy(node, statement: DirectStatement, params: dict) -> list[dict]:
    with node.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(statement.statement, params)]


def through_direct(ctx: NodeContext, statement: DirectStatement, params: dict) -> list[dict]:
    names = [str(column.key) for column in statement.statement.selected_columns]
    with ctx.direct_reads.connection() as connection:
        return [{name: getattr(row, name) for name in names} for row in connection.rows(statement, params)]


def test_direct_rows_equal_sqlalchemy_rows_for_json_dates_booleans_and_nulls(make_node):
    node = make_node()
    ctx = context(node)
    member = seed_member(node.engine, password="a long enough password",
                         affiliations=[SCHOOL_AFFILIATION, COMPANY_AFFILIATION])
    client, _ = register_client(ctx, ClientRegistration(
        name="Hub", redirect_uris=["https://hub.example/cb"], logo_uri="https://hub.example/logo.png",
        allow_refresh=False), "test")
    for statement, params in ((_MEMBER, {"member_id": member.id}), (_AFFILIATIONS_OF, {"member_id": member.id}),
                              (_CLIENT, {"client_id": client.client_id})):
        expected = through_sqlalchemy(node, statement, params)
        assert expected and through_direct(ctx, statement, params) == expected
    [school, company] = through_direct(ctx, _AFFILIATIONS_OF, {"member_id": member.id})
    assert school["groups"] == SCHOOL_AFFILIATION["groups"]
    assert company["start_date"] == COMPANY_AFFILIATION["start_date"]
    [read] = through_direct(ctx, _CLIENT, {"client_id": client.client_id})
    assert read["allow_refresh"] is False and read["redirect_uris"] == ["https://hub.example/cb"]
    ctx.direct_reads.dispose()


def test_a_direct_insert_stores_what_sqlalchemy_reads_back(make_node):
    node = make_node()
    ctx = context(node)
    member = seed_member(node.engine, password="a long enough password")
    row, _ = register_client(ctx, ClientRegistration(name="Hub", redirect_uris=["https://hub.example/cb"]), "test")
    now = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)
    values = {"family": "f" * 32, "client_id": row.client_id, "member_id": member.id, "access_hash": "a" * 64,
              "refresh_hash": None, "scope": "openid", "claims": {"userinfo": ["email"], "id_token": []},
              "auth_time": now, "issued_at": now, "access_expires_at": now + timedelta(minutes=5),
              "refresh_expires_at": None, "code_id": None}
    statement = DirectStatement(insert(_TOKENS).values({name: bindparam(name) for name in values}))
    with node.engine.begin() as connection:
        touched = statement.execute(connection.connection.driver_connection, node.engine.dialect, values)
    assert touched == 1
    with node.engine.connect() as connection:
        stored = connection.execute(select(_TOKENS).where(_TOKENS.c.access_hash == "a" * 64)).one()._mapping
    assert stored["claims"] == values["claims"] and stored["refresh_hash"] is None
    assert stored["access_expires_at"].replace(tzinfo=UTC) == values["access_expires_at"]


def test_a_failing_direct_read_raises_sqlalchemys_error_and_leaves_the_pool_usable(make_node):
    node = make_node()
    ctx = context(node)
    broken = DirectStatement(select(text("no_such_column")).select_from(_TOKENS))
    with pytest.raises(DBAPIError), ctx.direct_reads.connection() as connection:
        connection.rows(broken, {})
    with ctx.direct_reads.connection() as connection:  # the pool still answers afterwards
        assert connection.rows(_MEMBER, {"member_id": 1}) == []
    ctx.direct_reads.dispose()


def test_a_pooled_connection_killed_by_the_server_is_replaced_without_failing_the_read(make_node):
    node = make_node()
    if node.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL fault: a SQLite connection cannot be killed from outside")
    member = seed_member(node.engine, password="a long enough password")
    reads = DirectReads(node.engine.url.render_as_string(hide_password=False), timeout=5)
    with reads.connection() as connection:  # one connection, now idle in the pool
        assert connection.first(_MEMBER, {"member_id": member.id}) is not None
    with node.engine.connect() as admin:
        killed = admin.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    assert killed >= 1
    with reads.connection() as connection:
        row = connection.first(_MEMBER, {"member_id": member.id})
    assert row is not None and row.email == member.email
    reads.dispose()


def test_a_direct_transaction_commits_its_statements_together_or_none_of_them(make_node):
    """A sign-in (session, throttle, audit) or SQLite's refresh rotation (an UPDATE and an INSERT) runs in
    DirectConnection.transaction: an error between two statements leaves neither, on SQLite and on PostgreSQL
    (whose direct pool is otherwise in autocommit)."""
    node = make_node()
    ctx = context(node)
    member = seed_member(node.engine, password="a long enough password")
    row, _ = register_client(ctx, ClientRegistration(name="Hub", redirect_uris=["https://hub.example/cb"]), "test")
    now = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)

    def token(access_hash: str) -> dict:
        return {"family": "f" * 32, "client_id": row.client_id, "member_id": member.id, "access_hash": access_hash,
                "refresh_hash": None, "scope": "openid", "claims": {}, "auth_time": now, "issued_at": now,
                "access_expires_at": now + timedelta(minutes=5), "refresh_expires_at": None, "code_id": None}

    statement = DirectStatement(insert(_TOKENS).values({name: bindparam(name) for name in token("x")}))
    with ctx.direct_reads.connection() as connection:  # one connection: the failed write must not ride along
        with pytest.raises(RuntimeError), connection.transaction():
            connection.execute(statement, token("b" * 64))
            raise RuntimeError("the second statement failed")
        with connection.transaction():
            connection.execute(statement, token("c" * 64))
            connection.execute(statement, token("d" * 64))
    with node.engine.connect() as connection:
        stored = set(connection.execute(select(_TOKENS.c.access_hash)).scalars())
    assert stored == {"c" * 64, "d" * 64}
    ctx.direct_reads.dispose()


def kill_other_connections(node) -> int:
    """Terminate the database's other server connections and wait until their processes are gone.

    ``pg_terminate_backend`` only signals a backend: until it has exited, its client socket is not yet closed, and a
    connection checked out in that moment looks alive. A connection dying while in use is another case (a write
    then fails; it may not be replayed); this waits so the test is about connections that died while pooled."""
    with node.engine.connect() as admin:
        pids = list(admin.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalars())
        admin.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS integer[])) AS pid"),
                      {"pids": pids})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            admin.commit()  # pg_stat_activity is a snapshot taken once per transaction
            if not admin.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(CAST(:pids AS int[]))"),
                                 {"pids": pids}).scalar_one():
                break
            time.sleep(0.01)
        else:
            raise AssertionError(f"the backends {pids} did not exit")
    time.sleep(0.05)  # a backend leaves pg_stat_activity just before its last step, closing its socket
    return len(pids)


def test_a_write_never_goes_to_a_connection_the_server_closed_while_it_was_pooled(make_node):
    """PostgreSQL's direct pool has no pre-ping, and a write may not be replayed: a connection the server closed
    while pooled is seen at checkout (its socket is readable) and replaced before anything is sent on it."""
    node = make_node()
    if node.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL fault: a SQLite connection cannot be killed from outside")
    member = seed_member(node.engine, password="a long enough password")
    reads = DirectReads(node.engine.url.render_as_string(hide_password=False), timeout=5)
    renamed = DirectStatement(update(_MEMBERS).where(_MEMBERS.c.id == bindparam("id")).values(
        given_name=bindparam("name")))

    def stored_name() -> str:
        with node.engine.connect() as connection:
            return str(connection.execute(
                select(_MEMBERS.c.given_name).where(_MEMBERS.c.id == member.id)).scalar_one())

    with reads.connection() as connection:
        assert connection.first(_MEMBER, {"member_id": member.id}) is not None
    assert kill_other_connections(node) >= 1
    assert reads.write(renamed, {"id": member.id, "name": "Once"}) == 1  # autocommit: one statement
    assert stored_name() == "Once"
    assert kill_other_connections(node) >= 1
    with reads.writing() as connection:  # BEGIN ... COMMIT
        assert connection.execute(renamed, {"id": member.id, "name": "Twice"}) == 1
    assert stored_name() == "Twice"
    reads.dispose()


def test_a_batch_stores_all_its_writes_or_none_of_them(make_node):
    """A DirectBatch (one statement of data-modifying CTEs on PostgreSQL, a transaction on SQLite): the sign-in's
    session, throttle and audit writes are stored together, and a failing part leaves nothing of the others."""
    node = make_node()
    ctx = context(node)
    member = seed_member(node.engine, password="a long enough password")
    rename = update(_MEMBERS).where(_MEMBERS.c.id == bindparam("id")).values(given_name=bindparam("name"))
    add_token = insert(_TOKENS).values({name: bindparam(name) for name in (
        "family", "client_id", "member_id", "access_hash", "scope", "claims", "auth_time", "issued_at",
        "access_expires_at")})
    row, _ = register_client(ctx, ClientRegistration(name="Hub", redirect_uris=["https://hub.example/cb"]), "test")
    now = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    params = {"id": member.id, "family": "f" * 32, "client_id": row.client_id, "member_id": member.id,
              "access_hash": "e" * 64, "scope": "openid", "claims": {}, "auth_time": now, "issued_at": now,
              "access_expires_at": now + timedelta(minutes=5)}
    batch = DirectBatch(rename, add_token)
    assert ctx.direct_reads.write(batch, {**params, "name": "First"}) == 1

    def stored() -> tuple[str, int]:
        with node.engine.connect() as connection:
            name = connection.execute(select(_MEMBERS.c.given_name).where(_MEMBERS.c.id == member.id)).scalar_one()
            tokens = len(connection.execute(select(_TOKENS.c.id)).all())
        return str(name), tokens

    assert stored() == ("First", 1)
    with pytest.raises(DBAPIError):  # the same access hash again: the token's unique index refuses the last part
        ctx.direct_reads.write(batch, {**params, "name": "Second"})
    assert stored() == ("First", 1), "the rename of the failed batch was not kept"
    ctx.direct_reads.dispose()
