"""Shared fixtures: nodes on SQLite or PostgreSQL, started for real with uvicorn on free loopback ports.

The database is chosen by ``PASSERELLE_TEST_DATABASE`` (``sqlite``, the default, or ``postgres``). With
``postgres`` each node gets a database of its own on ``PASSERELLE_TEST_POSTGRES_URL``; when that URL is missing the
PostgreSQL run is skipped, except under ``CI=true`` where it is an error (CI must not skip it).
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from nodes import keyring
from nodes.app import create_app
from nodes.clock import Clock, utc_now
from nodes.settings import NodeSettings, load_settings
from nodes.storage.db import make_engine, upgrade

SHARED = Path(__file__).resolve().parents[2] / "shared"


def database_kind() -> str:
    return os.environ.get("PASSERELLE_TEST_DATABASE", "sqlite")


_PORTS_PER_WORKER = 5000
# Ports that browsers refuse to load (net::ERR_UNSAFE_PORT): Chromium's restricted list, of which only 10080 (amanda)
# falls in the ranges below. A browser test once drew it.
_BROWSER_UNSAFE_PORTS = frozenset({10080})
# Started at an offset of this process's own, so that two test runs on one machine do not walk the same ports.
_next_port = itertools.count(os.getpid() % _PORTS_PER_WORKER)


def free_port() -> int:
    """A loopback port that no other test worker hands out, and that this worker has not handed out before.

    ``bind(0)`` would draw from the kernel's ephemeral range, where a port released here can be drawn again at once
    by the other xdist worker (or become an HTTP client's source port) before the node that was meant to use it
    binds it: a test then talks to another test's node (CI saw exactly that). Each worker therefore counts through
    a range of its own below the ephemeral range, skipping any port something else already holds, and the ports a
    browser would refuse."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % 4 if worker[2:].isdigit() else 0
    base = 10000 + index * _PORTS_PER_WORKER
    for _ in range(_PORTS_PER_WORKER):
        port = base + next(_next_port) % _PORTS_PER_WORKER
        if port in _BROWSER_UNSAFE_PORTS:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port left in this worker's range")


class PostgresDatabases:
    """Creates a fresh database per node on the test server and drops them all at the end."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = "passerelle_t_" + secrets.token_hex(6)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    if database_kind() != "postgres":
        yield None
        return
    url = os.environ.get("PASSERELLE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("PASSERELLE_TEST_DATABASE=postgres needs PASSERELLE_TEST_POSTGRES_URL under CI")
        pytest.skip("PASSERELLE_TEST_POSTGRES_URL is not set")
    dbs = PostgresDatabases(url)
    yield dbs
    dbs.drop_all()


@dataclass
class Node:
    """A node initialised on disk (secret, schema, keys), not yet serving."""

    settings: NodeSettings
    engine: Engine
    config_file: Path

    @property
    def secret(self) -> bytes:
        return self.settings.node_secret()


NodeFactory = Callable[..., Node]


@pytest.fixture
def make_node(tmp_path: Path, postgres: PostgresDatabases | None) -> Iterator[NodeFactory]:
    """Create initialised nodes: ``make_node(kind="school", port=None, **settings)``."""
    engines: list[Engine] = []
    counter = iter(range(1000))

    def factory(kind: str = "school", port: int | None = None, **overrides: Any) -> Node:
        index = next(counter)
        data_dir = tmp_path / f"node{index}"
        port = port or free_port()
        values: dict[str, Any] = {
            "display_name": "École Test" if kind == "school" else "Test Company",
            "kind": kind,
            "base_url": f"http://localhost:{port}",
            "data_dir": str(data_dir),
            "dev_mode": True,
        }
        if postgres is not None:
            values["database_url"] = postgres.new()
        values.update(overrides)
        config_file = tmp_path / f"node{index}.toml"
        config_file.write_text(_toml(values), encoding="utf-8")
        settings = load_settings(config_file)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.ensure_secret()
        engine = make_engine(settings.resolved_database_url)
        engines.append(engine)
        upgrade(engine)
        keyring.ensure_keys(engine, settings.node_secret())
        return Node(settings=settings, engine=engine, config_file=config_file)

    yield factory
    for engine in engines:
        engine.dispose()


def _toml(values: dict[str, Any]) -> str:
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + "\n"


@dataclass
class LiveNode:
    """A node served by uvicorn on a free loopback port, reachable as ``http://localhost:<port>``."""

    node: Node
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(node: Node, clock: Clock = utc_now) -> LiveNode:
    """Start ``node`` in a uvicorn server thread and wait until it answers ``/healthz``.

    ``clock`` is the node's clock; pass a :class:`tests.movable_clock.MovableClock` to move time in a test.
    """
    app = create_app(node.settings, clock=clock)
    port = int(node.settings.base_url.rsplit(":", 1)[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = node.settings.base_url
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveNode(node=node, url=url, server=server, thread=thread)
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"node at {url} did not start")


@pytest.fixture
def live_node(make_node: NodeFactory) -> Iterator[Callable[..., LiveNode]]:
    """Start real nodes: ``live_node(kind="school", clock=utc_now, **settings)``; all are stopped at the end."""
    started: list[LiveNode] = []

    def factory(kind: str = "school", clock: Clock = utc_now, **overrides: Any) -> LiveNode:
        live = serve(make_node(kind, **overrides), clock=clock)
        started.append(live)
        return live

    yield factory
    for live in started:
        live.stop()
