"""The database engine of one node, and migrations.

There are no module-level engines: :func:`make_engine` is called by the app factory and by the CLI, so several
nodes can live in one process (tests start many).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: anyio's default thread pool (where FastAPI runs ``def`` routes) has 40 threads.
SQLITE_POOL_SIZE = 40
PG_POOL_SIZE = 10
PG_POOL_RECYCLE_SECONDS = 300


def make_engine(url: str, timeout: float = 15, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys and a busy timeout so two workers can share it.

    ``timeout`` bounds how long a statement waits for SQLite's write lock, or for a PostgreSQL connection (connect
    and pool checkout), before the database error surfaces (a node answers it with 503). SQL parameters are
    hidden from error messages, which end up in logs.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        if ":memory:" not in url and url.rstrip("/") != "sqlite:":
            # As many pooled connections as FastAPI's thread pool has threads: none is closed and reopened (with
            # its PRAGMAs) under load. SQLite serialises writers itself, with the busy timeout below.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 10)
            kwargs.setdefault("pool_timeout", timeout)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Pre-ping stays: a connection that died (server restarted, failover, network cut) is replaced at checkout
    # instead of failing a request or a caller using the engine directly. It costs one round trip per checkout;
    # the hot reads' own pool goes without it and retries a dead connection instead (nodes.storage.direct).
    # pool_recycle retires connections before a server or proxy idle timeout silently closes them.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", PG_POOL_SIZE)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(
        url, pool_recycle=PG_POOL_RECYCLE_SECONDS, pool_timeout=timeout,
        connect_args={"connect_timeout": max(2, round(timeout))}, **kwargs,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine``."""
    command.upgrade(alembic_config(engine), revision)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
