"""Ways to take a running node's database away from it, and to give it back, without restarting the node.

Each fault is real: SQLite itself refuses the write (another process holds the lock; the connection is read-only;
the file system is full or the file may not grow), or PostgreSQL cannot be reached (the TCP port is closed, or the
server refuses connections to the node's database). None of them replaces a project component.

As root, ``chmod`` does not stop writes (and never stops them on a file that is already open), and a file system
with open files cannot be remounted read-only; the read-only fault therefore uses ``PRAGMA query_only``, set on
every connection the node checks out of its pool, through SQLAlchemy's public event API.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "en"}
UNLIMITED_PAGES = 4294967294


def app_engine(live: Any) -> Engine:
    """The engine of the running node itself (not the test's own engine on the same database)."""
    engine: Engine = live.server.config.app.state.node.engine
    return engine


def app_engines(live: Any) -> list[Engine]:
    """Every pool of the running node: its engine, the direct pool of its hot reads and writes, and on SQLite the
    event loop's (``nodes.storage.direct``). A fault of the database reaches every connection the node has."""
    node = live.server.config.app.state.node
    loop = node.direct_reads.loop_engine
    return [node.engine, node.direct_reads.engine, *([loop] if loop is not None else [])]


def write_attempt(live: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A request that must write: a visitor without a session switches language (a new ``web_session`` row)."""
    with live.client(headers=headers or JSON) as client:
        return client.get("/lang/en", params={"next": "/"}, follow_redirects=False)


def session_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM web_session")).scalar_one())


def integrity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar_one())


def sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    assert database
    return Path(database)


# --- SQLite ------------------------------------------------------------------------------------------------------

_LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    db.execute("CREATE TABLE IF NOT EXISTS locker_probe (x)")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK")
    """
)


@contextlib.contextmanager
def sqlite_locked_by_another_process(database: Path) -> Iterator[None]:
    """Another process takes SQLite's write lock (``BEGIN EXCLUSIVE`` with a pending write) and holds it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        yield
    finally:
        assert locker.stdin is not None
        locker.stdin.write("\n")
        locker.stdin.close()
        locker.wait(timeout=10)


class CheckoutPragma:
    """Runs ``fault`` on every connection the engine hands out while on, and ``repair`` once it is off."""

    def __init__(self, engine: Engine, fault: str, repair: str) -> None:
        self.engine, self.fault, self.repair, self.on = engine, fault, repair, False
        event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(self.fault if self.on else self.repair)

    def remove(self) -> None:
        event.remove(self.engine, "checkout", self._checkout)


@contextlib.contextmanager
def sqlite_read_only(engines: list[Engine]) -> Iterator[None]:
    """Every connection of the node refuses writes (``SQLITE_READONLY``) until the block ends."""
    pragmas = [CheckoutPragma(engine, "PRAGMA query_only = ON", "PRAGMA query_only = OFF") for engine in engines]
    for pragma in pragmas:
        pragma.on = True
    try:
        yield
    finally:
        for pragma in pragmas:
            pragma.on = False  # every connection is repaired at its next checkout; the listener stays for that


@contextlib.contextmanager
def sqlite_file_may_not_grow(engines: list[Engine], pages: int) -> Iterator[None]:
    """The database file may not pass ``pages`` pages (``PRAGMA max_page_count``): a full disk, as SQLite sees it."""
    pragmas = [CheckoutPragma(engine, f"PRAGMA max_page_count = {pages}", f"PRAGMA max_page_count = {UNLIMITED_PAGES}")
               for engine in engines]
    for pragma in pragmas:
        pragma.on = True
    try:
        yield
    finally:
        for pragma in pragmas:
            pragma.on = False


def can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0


@contextlib.contextmanager
def small_file_system(where: Path, size: str = "8m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only); lazily unmounted at the end."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the file system is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
        with contextlib.suppress(OSError):
            while True:  # the last few bytes, one at a time
                handle.write(b"\0")
    return filler


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


class TcpProxy:
    """A loopback TCP relay to ``target``; :meth:`close` closes the port and cuts every relayed connection."""

    def __init__(self, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.port = port
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def open(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def proxied_url(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def postgres_target(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    return (parsed.host or "127.0.0.1", parsed.port or 5432)


@contextlib.contextmanager
def postgres_refusing_connections(admin: Engine, database: str) -> Iterator[None]:
    """The server refuses new connections to ``database`` and ends the open ones, as a failover would."""
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": database}
        )
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))


@contextlib.contextmanager
def database_outage(engine: Engine, postgres: Any) -> Iterator[None]:
    """The plainest outage for the database kind in use: SQLite locked by another process, PostgreSQL refusing.

    Give the node a short ``database_timeout_seconds`` so that SQLite writers give up on the lock quickly.
    """
    if engine.dialect.name == "sqlite":
        with sqlite_locked_by_another_process(sqlite_path(engine)):
            yield
    else:
        assert engine.url.database and postgres is not None
        with postgres_refusing_connections(postgres.admin, engine.url.database):
            yield
