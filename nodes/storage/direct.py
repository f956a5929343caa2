"""Precompiled statements run on the DBAPI connection itself, for the few reads and writes on the node's hottest paths
(ADR 0300).

Executing a Core statement costs SQLAlchemy 30-40 µs of Python per call (execution context, parameter processing,
result metadata), and an ORM session with a pool checkout about as much again; SQLite answers the same indexed
lookup in under 10 µs. On the UserInfo and refresh-token paths that overhead was most of the request. A
:class:`DirectStatement` is compiled once per dialect from the same Core statement the rest of the code would use,
so the SQL still comes from one definition and from the table metadata; only execution skips the machinery. Values
come back through the column types' own result processors (JSON text to objects, SQLite's datetime text to
``datetime``), so callers see what SQLAlchemy would have handed them.

:class:`DirectReads` is the pool those statements check connections out of: the node's database without a pre-ping
round trip per checkout and, on PostgreSQL, in autocommit (no BEGIN and ROLLBACK round trips around a read). A
PostgreSQL connection the server closed while it was pooled is seen at checkout (its socket is readable) and replaced;
a read that still fails because its connection died is tried once more on a fresh one, which is what the pre-ping
would have bought. Writes go through the same pool (ADR 0500): one statement committed at once, a
:meth:`DirectReads.writing` transaction, or a :class:`DirectBatch` of writes that commit together (one statement on
PostgreSQL). Any other database error surfaces as SQLAlchemy's own exception type, so the node answers it as it
answers every other database failure (503 when unreachable).

On SQLite, :meth:`DirectReads.loop_connection` serves work that runs on the event loop itself (the token endpoint,
ADR 0600): its connections never wait. Where a statement would wait for a lock (SQLite's busy timeout is zero on
them, and this process's write lock is only tried), :class:`WouldBlock` is raised instead, before anything is
written, and the caller runs the request again on a worker thread, where waiting harms no one else.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError

#: SQLite's primary result codes for a lock held elsewhere (``SQLITE_BUSY``, ``SQLITE_LOCKED``).
_SQLITE_LOCK_CODES = (5, 6)


class WouldBlock(Exception):  # noqa: N818 (a condition, not a failure: the caller retries where it may wait)
    """Work on the event loop met a lock it would have to wait for (another writer of this process, or another
    process's lock on the SQLite file). Raised before anything was written: the request can be run again on a
    worker thread."""


class DirectRow:
    """One row, read by column name as attributes (``row.client_id``) like SQLAlchemy's rows.

    Each statement gets a subclass with one property per column (:func:`_row_class`), so reading a column is a
    property call rather than a failed attribute lookup, and a value is converted by its column type only when
    it is read: the joined token row has some forty columns, and an answer reads a few of them.
    """

    __slots__ = ("_values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:  # reached only for a name the statement does not select
        raise AttributeError(name)


def _row_class(names: tuple[str, ...], results: tuple[Callable[[Any], Any] | None, ...]) -> type[DirectRow]:
    def column(position: int, process: Callable[[Any], Any] | None) -> property:
        if process is None:
            return property(lambda row: row._values[position])

        def read(row: DirectRow) -> Any:
            value = row._values[position]
            return None if value is None else process(value)

        return property(read)

    namespace: dict[str, Any] = {"__slots__": ()}
    namespace.update({name: column(position, process)
                      for position, (name, process) in enumerate(zip(names, results, strict=True))})
    return type("Row", (DirectRow,), namespace)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # the parameter order for positional paramstyles (SQLite's ``?``)
    defaults: dict[str, Any]  # values bound in the statement itself (``state == 'active'``)
    binds: dict[str, Callable[[Any], Any]]  # the parameters whose type converts them (datetime, JSON)
    row: type[DirectRow]


class DirectStatement:
    """A Core statement (``select``, or an ``insert``, ``update`` or ``delete`` with bound values) compiled once per
    dialect, executed on a DBAPI connection."""

    def __init__(self, statement: Select[Any] | Insert | Update | Delete) -> None:  # an insert may carry a CTE
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a direct statement cannot expand IN lists")
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                 for name, bind in compiled.binds.items()}
        columns = list(self.statement.selected_columns) if isinstance(self.statement, Select) else []
        names = tuple(str(column.key) for column in columns)
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        return _Compiled(
            sql=compiled.string,
            positions=tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None,
            defaults={name: value for name, value in compiled.params.items() if value is not None},
            binds={name: process for name, process in binds.items() if process is not None},
            row=_row_class(names, results),
        )

    def _run(self, connection: Any, dialect: Dialect, params: Mapping[str, Any],
             fetch: bool) -> tuple[_Compiled, list[Any], int]:
        compiled = self._for(dialect)
        values = {**compiled.defaults, **params}
        for name, process in compiled.binds.items():
            if values.get(name) is not None:
                values[name] = process(values[name])
        arguments: Any = [values[name] for name in compiled.positions] if compiled.positions else values
        cursor = connection.cursor()
        try:
            cursor.execute(compiled.sql, arguments)
            return compiled, cursor.fetchall() if fetch else [], cursor.rowcount
        except dialect.loaded_dbapi.Error as exc:
            raise _sqlalchemy_error(exc, dialect, compiled.sql) from exc
        finally:
            cursor.close()

    def rows(self, connection: Any, dialect: Dialect, params: Mapping[str, Any]) -> list[DirectRow]:
        """Every row, for ``params``, on the DBAPI ``connection`` (in whatever transaction it is in)."""
        compiled, fetched, _ = self._run(connection, dialect, params, fetch=True)
        row = compiled.row
        return [row(values) for values in fetched]

    def execute(self, connection: Any, dialect: Dialect, params: Mapping[str, Any]) -> int:
        """Run an ``insert``, ``update`` or ``delete`` in the connection's transaction; the rows it touched."""
        return self._run(connection, dialect, params, fetch=False)[2]


class DirectBatch:
    """Writes that commit together, as cheaply as each database allows.

    On PostgreSQL they are one statement: the first ones become data-modifying CTEs of the last
    (``WITH w0 AS (DELETE ...), w1 AS (INSERT ...) INSERT ...``), so the batch costs one round trip and, in
    the direct pool's autocommit, needs no ``BEGIN`` and ``COMMIT`` either; a statement is atomic. Its parts see one
    snapshot, so they must not depend on each other's effects (they write different rows). On SQLite they run one
    after another, in the caller's transaction. Parameters are shared by name: parts that bind the same name get
    the same value.
    """

    def __init__(self, *statements: Insert | Update | Delete) -> None:
        if not statements:
            raise ValueError("a batch needs at least one statement")
        self.parts = tuple(DirectStatement(statement) for statement in statements)
        *first, last = statements
        self.combined = DirectStatement(last.add_cte(*[part.cte(f"w{i}") for i, part in enumerate(first)]))

    def execute(self, connection: Any, dialect: Dialect, params: Mapping[str, Any]) -> int:
        """Run the batch on the DBAPI ``connection``; the rows the last statement touched."""
        if dialect.name == "postgresql":
            return self.combined.execute(connection, dialect, params)
        touched = 0
        for part in self.parts:
            touched = part.execute(connection, dialect, params)
        return touched


#: Connections a worker's direct pool keeps open on PostgreSQL (and may open as many again under a burst).
DIRECT_POOL_SIZE = 5


class DirectReads:
    """Connections for reads outside any transaction, and for the hot paths' short writes, from a pool of the
    node's database of their own."""

    def __init__(self, url: str, timeout: float) -> None:
        from nodes.storage.db import make_engine

        options: dict[str, Any] = {"pool_pre_ping": False}
        # SQLite has one writer at a time. Two threads of this process that collide would meet in SQLite's busy
        # handler, which sleeps (1, 2, 5, 10 ms...) between tries: under load those sleeps, not the work, made the
        # p99. The process's writers on the hot paths queue on this lock instead, and are woken as soon as the
        # writer before them commits. Re-entrant: a writer may call another. PostgreSQL locks rows: no lock there.
        self.write_lock: AbstractContextManager[Any] = (
            threading.RLock() if url.startswith("sqlite") else nullcontext())
        #: SQLite: connections for the event loop, which must never wait (:meth:`loop_connection`).
        self.loop_engine: Engine | None = None
        if url.startswith("sqlite"):
            self.loop_engine = make_engine(url, timeout=0, pool_pre_ping=False)
        if url.startswith("postgresql"):
            # A second pool of server connections per worker: kept small (the reads are short and the OIDC routes
            # run on four threads) so that two pools and several workers stay within the server's max_connections.
            options.update(isolation_level="AUTOCOMMIT", pool_size=DIRECT_POOL_SIZE, max_overflow=DIRECT_POOL_SIZE)
        self.engine = make_engine(url, timeout=timeout, **options)

    @contextmanager
    def connection(self) -> Iterator[DirectConnection]:
        """A pooled DBAPI connection; reads that fail because it died while pooled are retried on a fresh one."""
        connection = DirectConnection(self.engine)
        try:
            yield connection
        finally:
            connection.close()

    def loop_connection(self) -> DirectConnection:
        """SQLite: a connection for work on the event loop. Its busy timeout is zero, so a statement that meets
        another process's lock raises :class:`WouldBlock` at once instead of waiting (the caller then takes this
        process's :attr:`write_lock` with :func:`try_locked`, never by waiting)."""
        if self.loop_engine is None:
            raise RuntimeError("only SQLite serves work on the event loop")
        return DirectConnection(self.loop_engine, on_loop=True)

    @contextmanager
    def writing(self) -> Iterator[DirectConnection]:
        """A pooled connection in a transaction: committed at the end, rolled back on any exception."""
        with self.write_lock, self.connection() as connection, connection.transaction():
            yield connection

    def write(self, statement: DirectStatement | DirectBatch, params: Mapping[str, Any]) -> int:
        """One ``insert``, ``update`` or ``delete`` (or a :class:`DirectBatch`), committed at once; the rows it
        touched. On PostgreSQL's autocommit pool that is one round trip (no ``BEGIN``, no ``COMMIT``)."""
        if self.engine.dialect.name == "postgresql":
            with self.connection() as connection:
                return connection.execute(statement, params)
        with self.writing() as connection:
            return connection.execute(statement, params)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()


@contextmanager
def try_locked(lock: AbstractContextManager[Any]) -> Iterator[None]:
    """Hold ``lock`` (a :attr:`DirectReads.write_lock`) if it is free now; :class:`WouldBlock` if it is not."""
    acquire = getattr(lock, "acquire", None)
    if acquire is None:  # PostgreSQL's: no lock
        with lock:
            yield
        return
    if not acquire(blocking=False):
        raise WouldBlock("this process's SQLite write lock is held")
    try:
        yield
    finally:
        lock.release()  # type: ignore[attr-defined]


class DirectConnection:
    """A checked-out DBAPI connection whose first failed read, if it is a disconnect, is replayed on a new one."""

    def __init__(self, engine: Engine, on_loop: bool = False) -> None:
        self._engine, self._dialect, self._on_loop = engine, engine.dialect, on_loop
        self._raw, self._fresh = _checkout(engine), False

    def rows(self, statement: DirectStatement, params: Mapping[str, Any]) -> list[DirectRow]:
        try:
            return statement.rows(self._raw.driver_connection, self._dialect, params)
        except DBAPIError as exc:
            self._would_block(exc)
            if self._fresh or not self._dialect.is_disconnect(exc.orig, self._raw.driver_connection, None):  # type: ignore[arg-type]
                raise
            self._raw.invalidate(exc.orig)
            self._raw.close()
            self._raw, self._fresh = _checkout(self._engine), True
            return statement.rows(self._raw.driver_connection, self._dialect, params)

    def first(self, statement: DirectStatement, params: Mapping[str, Any]) -> DirectRow | None:
        rows = self.rows(statement, params)
        return rows[0] if rows else None

    def execute(self, statement: DirectStatement | DirectBatch, params: Mapping[str, Any]) -> int:
        """One ``insert``, ``update`` or ``delete``, or a :class:`DirectBatch` (committed at once on PostgreSQL's
        autocommit pool, outside :meth:`transaction`); rows touched.

        Not replayed on a disconnect: the statement may have run. A connection that the server closed while it
        was pooled is replaced at checkout, before anything is sent on it (:func:`_checkout`)."""
        try:
            return statement.execute(self._raw.driver_connection, self._dialect, params)
        except DBAPIError as exc:
            self._would_block(exc)
            raise

    def _would_block(self, exc: DBAPIError) -> None:
        """On a connection of the event loop, a lock held elsewhere is :class:`WouldBlock`, not a failure."""
        code = getattr(exc.orig, "sqlite_errorcode", None)
        if self._on_loop and code is not None and code & 0xFF in _SQLITE_LOCK_CODES:
            raise WouldBlock("SQLite's lock is held by another connection") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The statements run inside, committed together at the end, or rolled back on any exception.

        SQLite's driver opens the transaction itself before the first write. The PostgreSQL pool is in
        autocommit, so ``BEGIN`` is sent here."""
        postgres = self._dialect.name == "postgresql"
        if postgres:
            self._begin()
        try:
            yield
        except BaseException:
            self._end("ROLLBACK" if postgres else None, commit=False)
            raise
        self._end("COMMIT" if postgres else None, commit=True)

    def _begin(self) -> None:
        try:
            self._raw.driver_connection.execute("BEGIN")
        except self._dialect.loaded_dbapi.Error as exc:
            raise _sqlalchemy_error(exc, self._dialect, "BEGIN") from exc

    def _end(self, sql: str | None, commit: bool) -> None:
        """``COMMIT`` or ``ROLLBACK`` (by the driver's own call on SQLite). A connection that fails to end its
        transaction is thrown away rather than pooled in an unknown state."""
        driver = self._raw.driver_connection
        try:
            if sql is not None:
                driver.execute(sql)
            elif commit:
                driver.commit()
            else:
                driver.rollback()
        except self._dialect.loaded_dbapi.Error as exc:
            self._raw.invalidate(exc)
            if commit:
                error = _sqlalchemy_error(exc, self._dialect, sql or "COMMIT")
                self._would_block(error)  # the transaction was rolled back with its connection
                raise error from exc

    def close(self) -> None:
        """Back to the pool (or closed, when invalidated)."""
        self._raw.close()


def _checkout(engine: Engine) -> Any:
    """A pooled DBAPI connection. A failure to connect surfaces as SQLAlchemy's exception type, as through
    ``engine.connect()`` (``raw_connection`` lets the driver's own through), so the node answers 503 for it.

    A PostgreSQL connection that the server closed while it sat in the pool (a restart, an administrator, an idle
    timeout) has something to read on its socket: the server's farewell, or the end of the stream. That costs one
    ``select`` to see, not a round trip, and such a connection is replaced before any statement is sent on it, so
    a write is never the statement that finds it dead (a read could be replayed; a write may not be)."""
    try:
        raw = engine.raw_connection()
        if engine.dialect.name == "postgresql" and _closed_by_server(raw.driver_connection, engine.dialect):
            raw.invalidate()
            raw.close()
            raw = engine.raw_connection()
        return raw
    except engine.dialect.loaded_dbapi.Error as exc:
        raise _sqlalchemy_error(exc, engine.dialect) from exc


def _closed_by_server(connection: Any, dialect: Dialect) -> bool:
    """An idle connection has nothing to read unless the server sent its last words or hung up."""
    try:
        readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
    except (OSError, ValueError, dialect.loaded_dbapi.Error):  # a connection psycopg already knows is closed
        return True
    return bool(readable)


def _sqlalchemy_error(exc: Exception, dialect: Dialect, sql: str | None = None) -> DBAPIError:
    """The driver's error as SQLAlchemy would raise it (``OperationalError``...), parameters hidden."""
    error = DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect,
                                ismulti=False)
    # ``instance`` wraps a driver error (``exc`` always is one here) in a DBAPIError; only other exceptions would
    # come back as a plain StatementError.
    return cast(DBAPIError, error)
