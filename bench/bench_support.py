"""What several benchmarks share: a throw-away PostgreSQL database, and a bare node context on a fresh database.

Kept apart from the scripts so that each measures its own thing and sets up the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nodes import keyring
from nodes.context import NodeContext
from nodes.settings import load_settings
from nodes.storage.db import make_engine, upgrade


class ServerCpu:
    """CPU time a server process spends during a block, every thread included (``/proc/<pid>/task/*/schedstat``,
    nanoseconds on the CPU), beside the wall time: CPU per request is steadier than a rate on a shared machine, and
    CPU over wall says whether the server had its core to itself (``busy`` near 100 % when the load saturates it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu = self.wall = 0.0

    def _now(self) -> float:
        total = 0
        for path in Path(f"/proc/{self.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(path.read_text().split()[0])
        return total / 1e9

    def __enter__(self) -> ServerCpu:
        self._started, self._wall = self._now(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu, self.wall = self._now() - self._started, time.perf_counter() - self._wall

    def per(self, count: int) -> str:
        """``server CPU ... per request, core busy ...`` for ``count`` answers (empty where /proc is missing)."""
        if not count or not self.cpu:
            return ""
        return f"server CPU {self.cpu / count * 1e6:6.0f} µs each, its core busy {self.cpu / self.wall:4.0%}"


@contextlib.contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh database on the server of ``url``, dropped at the end."""
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = "passerelle_bench_" + secrets.token_hex(4)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def init_node(folder: Path, port: int, database_url: str, *, name: str = "Bench School",
              extra: str = "") -> tuple[Path, NodeContext]:
    """Write a school node's config in ``folder`` (``extra`` is appended TOML) and initialise the node as
    ``passerelle init`` does: secret, migrated database, keys. Returns the config and a context on it (the caller
    disposes of its engine); SQLite when ``database_url`` is empty."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "node.toml"
    config.write_text(
        f'display_name = "{name}"\nkind = "school"\nbase_url = "http://localhost:{port}"\n'
        f'data_dir = "{folder / "data"}"\ndev_mode = true\ndatabase_url = "{database_url}"\nlog_level = "warning"\n'
        + extra, encoding="utf-8")
    settings = load_settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.ensure_secret()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    keyring.ensure_keys(engine, settings.node_secret())
    return config, NodeContext(settings=settings, engine=engine, secret=settings.node_secret())


def school_node(folder: Path | str, database_url: str) -> NodeContext:
    """A school node in ``folder`` (dev mode, migrated database, a random secret), without HTTP; SQLite when
    ``database_url`` is empty. The roster cap is raised for 100,000-row files."""
    settings = load_settings(
        display_name="Bench School", kind="school", base_url="http://localhost:8499", data_dir=str(folder),
        dev_mode=True, database_url=database_url, roster_max_bytes=256 * 1024 * 1024,
    )
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return NodeContext(settings=settings, engine=engine, secret=secrets.token_bytes(32))
