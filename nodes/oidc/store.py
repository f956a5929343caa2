"""The provider's store (:class:`federation.oidc.store.ProviderStore`) on the node's SQL tables.

Each method is one short transaction. The two races that matter — a code used twice, a refresh token rotated
twice — are settled by one conditional ``UPDATE ... WHERE used_at IS NULL`` whose row count says who won, which
holds on SQLite and PostgreSQL alike and across workers. Revocations are written to the audit log in the same
transaction as the revocation itself.

Inside :meth:`SqlProviderStore.one_session` (the token, revocation, introspection and UserInfo routes) the calls of
one request share one connection for their reads and one session for their writes, instead of opening one each,
and read the client and the member's claims once; each write still commits on its own, so the races above are
settled exactly as without it.

The hot reads (a token with its grant and the member's affiliations and credentials, a client with its lockout)
and the refresh rotation are :class:`~nodes.storage.direct.DirectStatement` objects: the same Core statements, run
on the DBAPI connection without SQLAlchemy's per-statement machinery, which cost more than the rest of a UserInfo
answer (ADR 0300).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, exists, func, insert, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from federation.oidc.models import AuthorizationCode, Client, Consent, MemberClaims, TokenRecord
from nodes import throttle
from nodes.audit import record
from nodes.clock import aware
from nodes.context import NodeContext
from nodes.credentials_service import LIVE_DOCUMENTS
from nodes.oidc.userinfo_read import affiliations_of, documents_of, one_of, userinfo_reads
from nodes.storage.db import transaction
from nodes.storage.direct import (
    DirectBatch,
    DirectConnection,
    DirectReads,
    DirectRow,
    DirectStatement,
    WouldBlock,
    try_locked,
)
from nodes.storage.models import Affiliation, LoginThrottle, Member
from nodes.storage.oidc_tables import OidcAssertionJti, OidcClient, OidcCode, OidcConsent, OidcGrant, OidcToken

CLIENT_AUTH_THRESHOLD = 10
#: A client's failed authentications are counted per address, in ``login_throttle`` rows keyed
#: ``client:<client_id>@<address>`` (:func:`client_throttle_key`): client ids are URL-safe base64 (no ``@``).
CLIENT_KEY_PREFIX = "client:"
ADDRESS_SEPARATOR = "@"


@dataclass
class _RequestScope:
    """What the store calls of one request share: the connection their hot reads go through (from
    :class:`~nodes.storage.direct.DirectReads`, outside any transaction), the session their other statements go
    through (opened on first use; UserInfo and a successful refresh grant never open one), and what was already
    read. Each write commits before the call returns, so a read that follows sees it on either connection.
    """

    engine: Engine
    direct: DirectReads
    #: Access tokens read before the scope opened (UserInfo, :mod:`nodes.oidc.token_reads`), by
    #: hash; ``None`` for a hash that matched no token. A scope opened with them answers from what was read and
    #: never touches the database: it serves the event loop, which must not wait on a connection.
    read_ahead: Mapping[str, DirectRow | None] | None = None
    #: The address of the request (:attr:`federation.oidc.http.HttpRequest.peer`): a refresh token or a code is read
    #: with its client's failure counter at this address, which is all the client's authentication checks.
    address: str = "unknown"
    #: The hash of the refresh token the request presents (a refresh grant), read on first need with its client's
    #: lockout; the rows read, by hash (``None``: no such token).
    refresh_hash: str | None = None
    refresh_rows: dict[str, DirectRow | None] = field(default_factory=dict)
    #: The hash of the authorization code the request presents (a code grant), read likewise on first need with
    #: its client, lockout, consent, member and affiliations; the row read (``None``: no such code).
    code_hash: str | None = None
    code_rows: dict[str, DirectRow | None] = field(default_factory=dict)
    #: The member signed in at the authorization endpoint: the client is read with this member's live consent, which
    #: the endpoint asks for next.
    consent_member: int | None = None
    clients: dict[str, Client | None] = field(default_factory=dict)
    members: dict[int, MemberClaims | None] = field(default_factory=dict)
    member_rows: dict[int, Any] = field(default_factory=dict)
    consents: dict[tuple[int, str], Consent | None] = field(default_factory=dict)
    #: Whether a failure counter exists, by throttle key, as read with the lock: a successful authentication clears
    #: one only when it does, so that the success path writes nothing more.
    counters: dict[str, bool] = field(default_factory=dict)
    # Read with a token (nodes.oidc.userinfo_read), parsed only if the answer needs them.
    affiliations_json: dict[int, str | None] = field(default_factory=dict)
    documents_json: dict[int, str | None] = field(default_factory=dict)
    #: Run on the event loop (SQLite's token endpoint, ADR 0600): reads and writes go through a connection that
    #: never waits, the write lock is only tried, and anything that would wait raises
    #: :class:`~nodes.storage.direct.WouldBlock` while nothing is written yet, for the request to be run again on a
    #: worker thread. The ORM session, which waits on SQLite's busy timeout, is such a thing.
    on_loop: bool = False
    #: A write of this request committed: from then on, it may not be run again.
    wrote: bool = False
    _session: Session | None = None
    _connection: DirectConnection | None = None

    @property
    def db(self) -> Session:
        """The request's session, opened on first use."""
        if self._session is None:
            self._offline_check()
            self.may_wait()
            self._session = Session(self.engine, expire_on_commit=False)
        return self._session

    @property
    def connection(self) -> DirectConnection:
        if self._connection is None:
            self._offline_check()
            self._connection = self.direct.loop_connection() if self.on_loop else DirectConnection(self.direct.engine)
        return self._connection

    def may_wait(self) -> None:
        """Something is about to wait on a lock: on the event loop, hand the request back to a worker thread while
        that is still possible. Once a write committed, the request goes on where it is (each path of the core
        writes once: what comes after its write only reads)."""
        if self.on_loop and not self.wrote:
            raise WouldBlock("a store call would wait on the event loop")

    def _offline_check(self) -> None:
        if self.read_ahead is not None:
            raise RuntimeError("a store call needed the database in a scope that answers from what was read ahead")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._session is not None:
            self._session.close()


_scope: ContextVar[_RequestScope | None] = ContextVar("passerelle_oidc_store_scope", default=None)

# The hot lookups as Core statements built once (SQLAlchemy caches their compiled form): a token by the hash of its
# value (both hashes are unique, so indexed), a client by id, a live consent, a member and their affiliations, a
# client's lockout. Rows are read by column name, like the ORM objects they replace, at a fraction of the cost.
_TOKENS = OidcToken.__table__  # type: ignore[attr-defined]
_TOKEN_BY_HASH = {
    "access_token": DirectStatement(select(_TOKENS).where(_TOKENS.c.access_hash == bindparam("hash"))),
    "refresh_token": DirectStatement(select(_TOKENS).where(_TOKENS.c.refresh_hash == bindparam("hash"))),
}
_TOKEN_FIELDS = ("family", "code_id", "client_id", "member_id", "access_hash", "refresh_hash", "scope", "claims",
                 "auth_time", "issued_at", "access_expires_at", "refresh_expires_at", "refresh_scope",
                 "refresh_claims", "connection")
_INSERT_TOKEN = DirectStatement(insert(_TOKENS).values({name: bindparam(name) for name in _TOKEN_FIELDS}))
_ROTATION = update(_TOKENS).where(
    _TOKENS.c.id == bindparam("token_id"), _TOKENS.c.refresh_used_at.is_(None), _TOKENS.c.revoked_at.is_(None)
).values(refresh_used_at=bindparam("now"))
_CODES = OidcCode.__table__  # type: ignore[attr-defined]
_CODE_FIELDS = ("code_hash", "client_id", "member_id", "redirect_uri", "scope", "nonce", "claims", "code_challenge",
                "code_challenge_method", "auth_time", "created_at", "expires_at", "connection")
_GRANTS = OidcGrant.__table__  # type: ignore[attr-defined]
# A code issued is a sign-in at its platform: the line of "Connected platforms" that says what the platform
# received (the claims' names) is written with the code, in one batch (one statement on PostgreSQL).
_SAVE_CODE = DirectBatch(
    insert(_CODES).values({name: bindparam(name) for name in _CODE_FIELDS}),
    insert(_GRANTS).values(receipt_id=bindparam("receipt_id"), member_id=bindparam("member_id"),
                           client_id=bindparam("client_id"), kind=literal("signin"), claims=bindparam("names"),
                           at=bindparam("created_at"), receipt=bindparam("receipt")),
)
_CODE_BY_HASH = DirectStatement(select(_CODES).where(_CODES.c.code_hash == bindparam("hash")))
_REDEMPTION = update(_CODES).where(_CODES.c.id == bindparam("redeemed_id"), _CODES.c.used_at.is_(None)).values(
    used_at=bindparam("now"))


def _token_if(marking: Any) -> DirectStatement:
    """PostgreSQL: ``marking`` (an update that marks a refresh token or a code used) and the new token in one
    statement. The data-modifying CTE marks the row only if nobody did; the token is inserted only if it did (READ
    COMMITTED re-checks the condition on the locked row, so of two concurrent requests one inserts and the other
    touches nothing). SQLite has no DML in a CTE and runs the two in one transaction instead."""
    marked = marking.returning(marking.table.c.id).cte("marked")
    return DirectStatement(
        insert(_TOKENS).from_select(
            list(_TOKEN_FIELDS),
            select(*[bindparam(name, type_=_TOKENS.c[name].type) for name in _TOKEN_FIELDS])
            .where(exists(select(marked.c.id))),
        ).add_cte(marked)
    )


# (the marking alone for SQLite, the statement that also inserts the token for PostgreSQL)
_ROTATE = (DirectStatement(_ROTATION), _token_if(_ROTATION))
_MARK_CODE_USED = DirectStatement(_REDEMPTION)
_REDEEM = (_MARK_CODE_USED, _token_if(_REDEMPTION))
_CLIENT = DirectStatement(select(OidcClient.__table__).where(  # type: ignore[attr-defined]
    OidcClient.__table__.c.client_id == bindparam("client_id")  # type: ignore[attr-defined]
))
_CONSENTS = OidcConsent.__table__  # type: ignore[attr-defined]
_LIVE_CONSENT = DirectStatement(select(_CONSENTS).where(
    _CONSENTS.c.member_id == bindparam("member_id"), _CONSENTS.c.client_id == bindparam("client_id"),
    _CONSENTS.c.revoked_at.is_(None),
))
_MEMBER = DirectStatement(select(Member.__table__).where(  # type: ignore[attr-defined]
    Member.__table__.c.id == bindparam("member_id")))  # type: ignore[attr-defined]
_AFFILIATIONS = Affiliation.__table__  # type: ignore[attr-defined]
_AFFILIATIONS_OF = DirectStatement(select(_AFFILIATIONS).where(
    _AFFILIATIONS.c.member_id == bindparam("member_id")).order_by(_AFFILIATIONS.c.id))
_LIVE_DOCUMENTS = DirectStatement(LIVE_DOCUMENTS)
_CLIENTS = OidcClient.__table__  # type: ignore[attr-defined]
_MEMBERS = Member.__table__  # type: ignore[attr-defined]
_THROTTLE = LoginThrottle.__table__  # type: ignore[attr-defined]
# A token with what answering for it needs (its client, the live consent, the member) in one statement: UserInfo,
# introspection and a refresh grant would otherwise run one statement for each.
_JOINED = {
    "c": [_CLIENTS.c[name] for name in (
        "client_id", "name", "redirect_uris", "auth_method", "secret_hash", "post_logout_redirect_uris",
        "subject_type", "sector", "id_token_alg", "jwks", "logo_uri", "policy_uri", "allow_refresh", "disabled_at")],
    "k": [_CONSENTS.c[name] for name in ("id", "decided", "granted", "granted_at", "connection")],
    "m": [_MEMBERS.c[name] for name in ("id", "public_id", "given_name", "family_name", "email", "claimed_at")],
}

# A client with a member's live consent for it (``k__`` columns, all ``NULL`` without one): the authorization
# endpoint reads both, one after the other, when a member is signed in.
_CLIENT_WITH_CONSENT = DirectStatement(
    select(_CLIENTS, *[column.label(f"k__{column.name}") for column in _JOINED["k"]])
    .select_from(_CLIENTS.outerjoin(_CONSENTS, (_CONSENTS.c.client_id == _CLIENTS.c.client_id)
                                    & (_CONSENTS.c.member_id == bindparam("member_id"))
                                    & _CONSENTS.c.revoked_at.is_(None)))
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
)


def _with_grant(table: Any, outer: bool = False) -> Select[Any]:
    """The rows of ``table`` (tokens or codes, which both name a ``client_id`` and a ``member_id``) with their
    client, live consent and member. A token without its client or member is no token (inner joins); a code is
    read whatever became of them (``outer``), so that its redemption and reuse are judged as before."""
    join = table.outerjoin if outer else table.join
    joined: Select[Any] = select(
        table, *[column.label(f"{prefix}__{column.name}") for prefix, columns in _JOINED.items() for column in columns]
    ).select_from(
        join(_CLIENTS, _CLIENTS.c.client_id == table.c.client_id)
        .join(_MEMBERS, _MEMBERS.c.id == table.c.member_id, isouter=outer)
        .outerjoin(_CONSENTS, (_CONSENTS.c.member_id == table.c.member_id)
                   & (_CONSENTS.c.client_id == table.c.client_id) & _CONSENTS.c.revoked_at.is_(None))
    )
    return joined


def _with_lockout(with_grant: Select[Any], table: Any, address: Any) -> Select[Any]:
    """... and the failure counter of the row's client at the request's ``address`` (a parameter, or a column of
    the addresses read with their hashes), as ``c__locked_until`` and ``c__failures`` (both ``NULL`` without one):
    the lock the client's authentication checks, and whether a success has a counter to clear."""
    key = _client_key_of(table.c.client_id, address)
    return with_grant.add_columns(
        *[select(column).where(_THROTTLE.c.key == key).scalar_subquery().label(f"c__{column.name}")
          for column in (_THROTTLE.c.locked_until, _THROTTLE.c.failures)])


def _client_key_of(client_id: Any, address: Any) -> Any:
    """:func:`client_throttle_key` in SQL, of a client id column and an address."""
    return literal(CLIENT_KEY_PREFIX).concat(client_id).concat(literal(ADDRESS_SEPARATOR)).concat(address)


def _refresh_tokens_read() -> DirectStatement:
    """PostgreSQL's read of the refresh tokens of the grants that arrived together, each with its request's address,
    whose lock is read with it: ``unnest(:hashes, :addresses)`` zips the two list parameters, each bound as one
    value whatever its length. SQLite's routes read a refresh token alone (:data:`_REFRESH_TOKEN_READ`)."""
    presented = func.unnest(bindparam("hashes", type_=ARRAY(String)), bindparam("addresses", type_=ARRAY(String))
                            ).table_valued("hash", "address").render_derived(name="presented")
    with_lockout = _with_lockout(_WITH_GRANT, _TOKENS, presented.c.address).add_columns(
        presented.c.address.label("presented_address"))
    return userinfo_reads(with_lockout, _TOKENS.c.member_id, lambda _: _TOKENS.c.refresh_hash == presented.c.hash,
                          documents=False)["postgresql"]


_WITH_GRANT = _with_grant(_TOKENS)
# ... and with the member's affiliations (and, an access token, live credentials): UserInfo and a refresh grant
# then need no other read of the member. One statement per dialect (nodes.oidc.userinfo_read). Access tokens are
# read by a list of hashes: UserInfo requests that arrive together are answered from one read (nodes.oidc.token_reads).
_ACCESS_TOKENS_READ = userinfo_reads(
    _WITH_GRANT, _TOKENS.c.member_id, lambda dialect: one_of(dialect, _TOKENS.c.access_hash, "hashes"))
# A refresh token is read with its client's lockout at the request's address (parameter ``address``) too: the
# grant's client authentication, which comes first, then needs no read of its own when the client is the token's.
_REFRESH_TOKEN_READ = userinfo_reads(
    _with_lockout(_WITH_GRANT, _TOKENS, bindparam("address")), _TOKENS.c.member_id,
    lambda dialect: _TOKENS.c.refresh_hash == bindparam("hash"), documents=False)
# ... and by a list of (hash, address) pairs: on PostgreSQL the refresh grants that arrive together read their tokens
# in one statement before their cores run (nodes.oidc.token_routes), as UserInfo requests do, each token with the
# lockout at its own request's address (column ``presented_address``).
_REFRESH_TOKENS_READ = _refresh_tokens_read()
# An authorization code likewise, for its redemption: the client's authentication, the code, the consent, the member
# and the affiliations of the ID token, in one statement instead of five.
_CODE_READ = userinfo_reads(
    _with_lockout(_with_grant(_CODES, outer=True), _CODES, bindparam("address")), _CODES.c.member_id,
    lambda dialect: _CODES.c.code_hash == bindparam("hash"), documents=False)
_COUNTER = DirectStatement(select(_THROTTLE.c.locked_until, _THROTTLE.c.failures).where(
    _THROTTLE.c.key == bindparam("key")))
# A client with its lockout, in one statement: every token request checks both before anything else.
_CLIENT_WITH_LOCK = DirectStatement(
    select(_CLIENTS, _THROTTLE.c.locked_until, _THROTTLE.c.failures)
    .select_from(_CLIENTS.outerjoin(_THROTTLE, _THROTTLE.c.key == bindparam("key")))
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
)
_CLEAR_COUNTER = DirectStatement(throttle.CLEAR)


def client_throttle_key(client_id: str, address: str) -> str:
    """The ``login_throttle`` key that counts the failed authentications of ``client_id`` from ``address``."""
    return f"{CLIENT_KEY_PREFIX}{client_id}{ADDRESS_SEPARATOR}{address}"


def _tokens_of(member_id: int, client_id: str) -> Any:
    """The tokens of a member at a client (what a disconnection or a withdrawal revokes)."""
    return (col(OidcToken.member_id) == member_id) & (col(OidcToken.client_id) == client_id)


def to_client(row: Any) -> Client:
    return Client(
        client_id=row.client_id, name=row.name, redirect_uris=tuple(row.redirect_uris),
        auth_method=row.auth_method, secret_hash=row.secret_hash,
        post_logout_redirect_uris=tuple(row.post_logout_redirect_uris), subject_type=row.subject_type,
        sector=row.sector, id_token_alg=row.id_token_alg, jwks=tuple(row.jwks), logo_uri=row.logo_uri,
        policy_uri=row.policy_uri, allow_refresh=row.allow_refresh,
    )


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id, family=row.family, client_id=row.client_id, member_id=row.member_id, access_hash=row.access_hash,
        scope=row.scope, claims=dict(row.claims), auth_time=aware(row.auth_time), issued_at=aware(row.issued_at),
        access_expires_at=aware(row.access_expires_at), connection=row.connection, refresh_hash=row.refresh_hash,
        refresh_expires_at=aware(row.refresh_expires_at) if row.refresh_expires_at else None, code_id=row.code_id,
        refresh_scope=row.refresh_scope,
        refresh_claims=dict(row.refresh_claims) if row.refresh_claims is not None else None,
        refresh_used_at=row.refresh_used_at, revoked_at=row.revoked_at,
    )


def _token_values(token: TokenRecord) -> dict[str, Any]:
    """The parameters of :data:`_INSERT_TOKEN` (and of the PostgreSQL statements that mark and insert)."""
    return {name: getattr(token, name) for name in _TOKEN_FIELDS}


def member_claims_of(member: Any, affiliations: list[Any], organisation: str) -> MemberClaims:
    """A member's releasable claims; affiliations as plain JSON (no row ids, no roster keys)."""
    return MemberClaims(
        local_id=member.public_id, given_name=member.given_name, family_name=member.family_name,
        email=member.email, email_verified=member.claimed_at is not None,
        affiliations=tuple(_affiliation(a, organisation) for a in affiliations),
    )


def _affiliation(row: Any, organisation: str) -> dict[str, Any]:
    fields = ("programme", "degree", "class_year") if row.kind == "school" else ("role", "department")
    out: dict[str, Any] = {"organisation": organisation, "kind": row.kind}
    out.update({name: getattr(row, name) for name in fields if getattr(row, name) is not None})
    if row.kind == "school" and row.groups:
        out["groups"] = list(row.groups)
    for name in ("start_date", "end_date"):
        value = getattr(row, name)
        if value is not None:
            out[name] = value.isoformat()
    return out


def _live_consent(row: Any, member_id: int, client_id: str) -> Consent | None:
    """The live consent read with a row as ``k__`` columns (all ``NULL``: none)."""
    consent = _Columns(row, "k")
    if consent.id is None:
        return None
    return Consent(member_id, client_id, frozenset(consent.decided), frozenset(consent.granted),
                   aware(consent.granted_at), consent.connection)


class _Columns:
    """The columns of one joined table in a row, read by name (``row.k__granted`` as ``_Columns(row, "k").granted``)."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, f"{self._prefix}__{name}")


class SqlProviderStore:
    """:class:`~federation.oidc.store.ProviderStore` for one node."""

    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self.engine = node.engine
        # SQLite: writers of this process queue on the node's write lock (nodes/storage/direct.py).
        self._write_lock = node.direct_reads.write_lock

    @contextmanager
    def one_session(self, read_ahead: Mapping[str, DirectRow | None] | None = None,
                    refresh_hash: str | None = None, on_loop: bool = False,
                    refresh_rows: Mapping[str, DirectRow | None] | None = None,
                    code_hash: str | None = None, consent_member: int | None = None,
                    address: str = "unknown") -> Iterator[None]:
        """Share one direct connection and one session among the store calls made inside the block (by this thread
        or task). With ``read_ahead`` (:meth:`read_access_tokens`' answer), the calls answer from it and what came
        with it, and none may reach the database. With ``refresh_hash`` (a refresh grant's token), the client's
        authentication reads the token with its client and lockout at ``address`` (the request's), in the one read
        the grant then uses. With ``on_loop`` (SQLite only), the calls never wait: see
        :attr:`_RequestScope.on_loop`. ``refresh_rows`` are refresh tokens already read at ``address``
        (:meth:`read_refresh_tokens`' answer), which are not read again."""
        if _scope.get() is not None:
            yield
            return
        scope = _RequestScope(self.engine, self.node.direct_reads, read_ahead, address, refresh_hash,
                              dict(refresh_rows or {}), code_hash=code_hash, consent_member=consent_member,
                              on_loop=on_loop)
        token = _scope.set(scope)
        try:
            yield
        finally:
            _scope.reset(token)
            scope.close()

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        scope = _scope.get()
        if scope is not None:
            yield scope.db
            return
        with Session(self.engine) as db:
            yield db

    @contextmanager
    def _direct(self) -> Iterator[DirectConnection]:
        """The request's direct connection, or else one of the direct pool for this call."""
        scope = _scope.get()
        if scope is not None:
            yield scope.connection
            return
        with self.node.direct_reads.connection() as connection:
            yield connection

    def _rows(self, statement: DirectStatement, params: dict[str, Any]) -> list[DirectRow]:
        with self._direct() as connection:
            return connection.rows(statement, params)

    def _first(self, statement: DirectStatement, params: dict[str, Any]) -> DirectRow | None:
        with self._direct() as connection:
            return connection.first(statement, params)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any exception (on the shared session too).

        On SQLite, writers of this process queue on :attr:`_write_lock` first (see ``__init__``).
        """
        scope = _scope.get()
        if scope is not None:
            scope.may_wait()
        with self._write_lock:
            if scope is None:
                with transaction(self.engine) as db:
                    yield db
                return
            db = scope.db
            try:
                yield db
                db.commit()
                scope.wrote = True
            except BaseException:
                db.rollback()
                raise
            finally:
                db.expunge_all()  # rows read later in the request come from the database, not the identity map

    def get_client(self, client_id: str) -> Client | None:
        scope = _scope.get()
        if scope is not None and client_id in scope.clients:
            return scope.clients[client_id]
        if scope is not None and scope.consent_member is not None:
            return self._client_with_consent(scope, client_id, scope.consent_member)
        row = self._first(_CLIENT, {"client_id": client_id})
        client = to_client(row) if row is not None and row.disabled_at is None else None
        if scope is not None:
            scope.clients[client_id] = client
        return client

    @staticmethod
    def _client_with_consent(scope: _RequestScope, client_id: str, member_id: int) -> Client | None:
        row = scope.connection.first(_CLIENT_WITH_CONSENT, {"client_id": client_id, "member_id": member_id})
        client = to_client(row) if row is not None and row.disabled_at is None else None
        scope.clients[client_id] = client
        if row is not None:
            scope.consents[(member_id, client_id)] = _live_consent(row, member_id, client_id)
        return client

    def save_code(self, code: AuthorizationCode) -> None:
        """The code, and the sign-in it is logged as (the names of the claims it releases, for the member's
        "Connected platforms" page)."""
        values: dict[str, Any] = {name: getattr(code, name) for name in _CODE_FIELDS if name != "created_at"}
        names = sorted(set(code.claims.get("userinfo", [])) | set(code.claims.get("id_token", [])))
        values.update(created_at=self.node.clock(), receipt_id=str(uuid.uuid4()), names=names, receipt={})
        self.node.direct_reads.write(_SAVE_CODE, values)

    def find_code(self, code_hash: str) -> AuthorizationCode | None:
        scope = _scope.get()
        if scope is not None and scope.code_hash == code_hash:
            row = self._code_row(scope, code_hash)
            if row is not None:
                self._remember_grant(scope, row, documents=False)
        else:
            row = self._first(_CODE_BY_HASH, {"hash": code_hash})
        if row is None:
            return None
        return AuthorizationCode(
            id=row.id, code_hash=row.code_hash, client_id=row.client_id, member_id=row.member_id,
            redirect_uri=row.redirect_uri, scope=row.scope, nonce=row.nonce, claims=dict(row.claims),
            code_challenge=row.code_challenge, code_challenge_method=row.code_challenge_method,
            auth_time=aware(row.auth_time), expires_at=aware(row.expires_at), connection=row.connection,
            used_at=row.used_at,
        )

    def consume_code(self, code_id: int, now: datetime) -> bool:
        scope = _scope.get()
        if scope is None or not scope.on_loop:
            return self.node.direct_reads.write(_MARK_CODE_USED, {"redeemed_id": code_id, "now": now}) == 1
        with self._locked_for(scope), scope.connection.transaction():
            marked = scope.connection.execute(_MARK_CODE_USED, {"redeemed_id": code_id, "now": now}) == 1
        scope.wrote = True
        return marked

    def _locked_for(self, scope: _RequestScope | None) -> AbstractContextManager[Any]:
        """The node's write lock (SQLite), only tried on the event loop: :class:`WouldBlock` if it is held."""
        return try_locked(self._write_lock) if scope is not None and scope.on_loop else self._write_lock

    def redeem_code(self, code_id: int, record: TokenRecord, now: datetime) -> bool:
        return self._mark_and_insert(_REDEEM, {"redeemed_id": code_id, "now": now}, record)

    def rotate_refresh(self, token_id: int, record: TokenRecord, now: datetime) -> bool:
        return self._mark_and_insert(_ROTATE, {"token_id": token_id, "now": now}, record)

    def _mark_and_insert(self, statements: tuple[DirectStatement, DirectStatement], params: dict[str, Any],
                         record: TokenRecord) -> bool:
        """Mark a code or refresh token used and insert the token it buys, only if nobody marked it first."""
        marking, with_insert = statements
        if self.engine.dialect.name == "postgresql":  # one atomic statement, in autocommit: one round trip
            with self._direct() as connection:
                return connection.execute(with_insert, {**params, **_token_values(record)}) == 1
        # SQLite: the two statements in one transaction on the request's direct connection (no session to open).
        scope = _scope.get()
        with self._locked_for(scope), self._direct() as connection, connection.transaction():
            if connection.execute(marking, params) != 1:
                return False
            connection.execute(_INSERT_TOKEN, _token_values(record))
        if scope is not None:
            scope.wrote = True
        return True

    def find_token(self, token_hash: str, kind: str) -> TokenRecord | None:
        kind = "refresh_token" if kind == "refresh_token" else "access_token"
        scope = _scope.get()
        if scope is not None:
            return self._find_with_grant(scope, token_hash, kind)
        row = self._first(_TOKEN_BY_HASH[kind], {"hash": token_hash})
        return _record(row) if row is not None else None

    def read_access_tokens(self, hashes: Sequence[str]) -> dict[str, DirectRow | None]:
        """Access tokens by hash, each with what UserInfo answers from (its client, live consent, member, and the
        member's affiliations and live credentials), in one statement; ``None`` for a hash that matches none."""
        found: dict[str, DirectRow | None] = dict.fromkeys(hashes)
        with self._direct() as connection:
            for row in connection.rows(_ACCESS_TOKENS_READ[self.engine.dialect.name], {"hashes": list(found)}):
                found[row.access_hash] = row
        return found

    def read_refresh_tokens(self, presented: Sequence[tuple[str, str]]) -> dict[tuple[str, str], DirectRow | None]:
        """Refresh tokens by (hash, address of the request that presents it), each with its client and the client's
        lockout at that address, live consent, member and the member's affiliations (what a refresh grant reads),
        in one statement; ``None`` for a hash that matches none. PostgreSQL only: SQLite's routes read a refresh
        token alone, with its request."""
        found: dict[tuple[str, str], DirectRow | None] = dict.fromkeys(presented)
        params = {"hashes": [hash_ for hash_, _ in found], "addresses": [address for _, address in found]}
        with self._direct() as connection:
            for row in connection.rows(_REFRESH_TOKENS_READ, params):
                found[(row.refresh_hash, row.presented_address)] = row
        return found

    def _find_with_grant(self, scope: _RequestScope, token_hash: str, kind: str) -> TokenRecord | None:
        """The token, reading its client, live consent, member and the member's affiliations (and credentials)
        into the request's scope at once."""
        if kind == "refresh_token":
            row = self._refresh_row(scope, token_hash)
        elif scope.read_ahead is not None and token_hash in scope.read_ahead:
            row = scope.read_ahead[token_hash]
        else:
            row = self.read_access_tokens([token_hash])[token_hash]
        if row is None:
            return None
        self._remember_grant(scope, row, documents=kind == "access_token")
        return _record(row)

    @staticmethod
    def _remember_grant(scope: _RequestScope, row: DirectRow, documents: bool) -> None:
        """Keep in the scope what came with a token or a code (its client, live consent, member, affiliations and,
        with ``documents``, live credentials), for the calls of the core that follow. What the scope already holds
        (the client, read with its lockout by a token request) is not built again. A code is read with outer joins:
        where its client or member is gone, nothing is kept and the calls that need them read (and find nothing)."""
        member_id, client_id = row.member_id, row.client_id
        if row.m__id is None:
            return
        if member_id not in scope.affiliations_json:
            scope.affiliations_json[member_id] = row.affiliations_json
        if documents and member_id not in scope.documents_json:
            scope.documents_json[member_id] = row.documents_json
        if client_id not in scope.clients and row.c__client_id is not None:
            client = _Columns(row, "c")
            scope.clients[client_id] = to_client(client) if client.disabled_at is None else None
        if (member_id, client_id) not in scope.consents:
            scope.consents[(member_id, client_id)] = _live_consent(row, member_id, client_id)
        if member_id not in scope.member_rows:
            scope.member_rows[member_id] = _Columns(row, "m")

    def _refresh_row(self, scope: _RequestScope, token_hash: str) -> DirectRow | None:
        if token_hash not in scope.refresh_rows:
            scope.refresh_rows[token_hash] = scope.connection.first(
                _REFRESH_TOKEN_READ[self.engine.dialect.name], {"hash": token_hash, "address": scope.address})
        return scope.refresh_rows[token_hash]

    def _code_row(self, scope: _RequestScope, code_hash: str) -> DirectRow | None:
        if code_hash not in scope.code_rows:
            scope.code_rows[code_hash] = scope.connection.first(_CODE_READ[self.engine.dialect.name],
                                                                {"hash": code_hash, "address": scope.address})
        return scope.code_rows[code_hash]

    def _presented_row(self, scope: _RequestScope | None) -> DirectRow | None:
        """The refresh token or code the request presents, with its client and lockout (read on first need)."""
        if scope is None:
            return None
        if scope.refresh_hash:
            return self._refresh_row(scope, scope.refresh_hash)
        if scope.code_hash:
            return self._code_row(scope, scope.code_hash)
        return None

    def live_credential_documents(self, member_id: int) -> list[dict[str, Any]]:
        """The member's live affiliation credentials (:func:`nodes.credentials_service.live_documents`): as read
        with the request's access token, or else in one direct read."""
        scope = _scope.get()
        if scope is not None and member_id in scope.documents_json:
            return documents_of(scope.documents_json[member_id])
        return [row.document for row in self._rows(_LIVE_DOCUMENTS, {"member_id": member_id})]

    def revoke_family(self, family: str, now: datetime, reason: str) -> int:
        return self._revoke(col(OidcToken.family) == family, now, reason)

    def revoke_code_tokens(self, code_id: int, now: datetime) -> int:
        with self._reading() as db:
            families = list(db.exec(select(OidcToken.family).where(OidcToken.code_id == code_id)))
        if not families:
            with self._writing() as db:
                record(db, self.node.clock, "system", "oidc.code.reused", target=f"code:{code_id}", revoked=0)
            return 0
        return self._revoke(col(OidcToken.family).in_(families), now, "code_reused")

    def revoke_access(self, token_id: int, now: datetime) -> None:
        self._revoke(col(OidcToken.id) == token_id, now, "revoked_by_client")

    def disconnect(self, member_id: int, client_id: str, now: datetime, audit: Callable[[Session], object]) -> bool:
        """Revoke the member's live consent for the client and every token of theirs at it, with ``audit``'s event
        and a history line, in one transaction: no failure leaves a token alive after its consent. ``False`` if the
        platform was not connected, also when another disconnection got there first (the consent row is locked,
        and read again once that one commits).

        A request that read the consent before this commits may still write a code or a token after it (a
        redemption or a rotation in flight). That code or token carries the connection revoked here, which no
        later consent brings back (:attr:`federation.oidc.models.Consent.connection`)."""
        with self._writing() as db:
            row = db.exec(select(OidcConsent).where(
                OidcConsent.member_id == member_id, OidcConsent.client_id == client_id,
                col(OidcConsent.revoked_at).is_(None),
            ).with_for_update()).first()
            if row is None:
                return False
            row.revoked_at = now
            db.add(row)
            db.add(OidcGrant(receipt_id=str(uuid.uuid4()), member_id=member_id, client_id=client_id,
                             kind="disconnected", at=now))  # the line of "Connected platforms" that says when
            audit(db)
            self._revoke_in(db, _tokens_of(member_id, client_id), now, "revoked_by_member")
        return True

    def revoke_refresh_tokens(self, member_id: int, client_id: str, now: datetime, reason: str) -> int:
        """Revoke every live token of the member at the client that came with a refresh token: what a withdrawal
        of offline access ends, and, when it is granted again, what that withdrawal could not reach (a rotation
        that raced it, a revocation that failed after the choice was saved), dead until then only because the
        consent did not allow it."""
        return self._revoke(_tokens_of(member_id, client_id) & col(OidcToken.refresh_hash).is_not(None), now, reason)

    def _revoke(self, where: Any, now: datetime, reason: str) -> int:
        with self._writing() as db:
            return self._revoke_in(db, where, now, reason)

    def _revoke_in(self, db: Session, where: Any, now: datetime, reason: str) -> int:
        rows = list(db.exec(select(OidcToken).where(where, col(OidcToken.revoked_at).is_(None))))
        for row in rows:
            row.revoked_at, row.revoked_reason = now, reason
            db.add(row)
        if rows:
            first = rows[0]
            record(db, self.node.clock, "system", "oidc.tokens.revoked", target=f"client:{first.client_id}",
                   reason=reason, count=len(rows), families=sorted({r.family for r in rows}))
        return len(rows)

    def get_consent(self, member_id: int, client_id: str) -> Consent | None:
        scope = _scope.get()
        if scope is not None and (member_id, client_id) in scope.consents:
            return scope.consents[(member_id, client_id)]
        row = self._first(_LIVE_CONSENT, {"member_id": member_id, "client_id": client_id})
        if row is None:
            return None
        return Consent(member_id, client_id, frozenset(row.decided), frozenset(row.granted), aware(row.granted_at),
                       row.connection)

    def member_claims(self, member_id: int) -> MemberClaims | None:
        scope = _scope.get()
        if scope is not None and member_id in scope.members:
            return scope.members[member_id]
        claims = None
        member = scope.member_rows.get(member_id) if scope is not None else None
        if member is None:
            member = self._first(_MEMBER, {"member_id": member_id})
        if member is not None:
            affiliations: list[Any]
            if scope is not None and member_id in scope.affiliations_json:
                affiliations = affiliations_of(scope.affiliations_json[member_id])
            else:
                affiliations = self._rows(_AFFILIATIONS_OF, {"member_id": member_id})
            claims = member_claims_of(member, affiliations, self.node.settings.display_name)
        if scope is not None:
            scope.members[member_id] = claims
        return claims

    def seen_assertion(self, client_id: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        key = hashlib.sha256(f"{client_id}\x00{jti}".encode()).hexdigest()
        with self._writing() as db:
            db.exec(
                OidcAssertionJti.__table__.delete().where(  # type: ignore[attr-defined]
                    col(OidcAssertionJti.expires_at) < now
                )
            )
            dialect = db.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            table = OidcAssertionJti.__table__  # type: ignore[attr-defined]
            inserted = db.exec(
                insert(table).values(key=key, expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
            ).first()
            return inserted is None  # RETURNING yields no row when the key was already there

    def client_auth_lock(self, client_id: str, address: str, now: datetime) -> int | None:
        """The seconds until the counter of this client at this address stops locking it out (``None``: no lock),
        as :func:`nodes.throttle.seconds_until` reads it. In a request's scope the counter comes with the token or
        code the request presents when that is the client's, or else with the client (read for the authentication
        that follows): no read of its own."""
        key = client_throttle_key(client_id, address)
        scope = _scope.get()
        token = self._presented_row(scope) if scope is not None and scope.address == address else None
        if scope is not None and token is not None and token.client_id == client_id:  # read with its lockout
            if client_id not in scope.clients and token.c__client_id is not None:
                client = _Columns(token, "c")
                scope.clients[client_id] = to_client(client) if client.disabled_at is None else None
            until, failures = token.c__locked_until, token.c__failures
        elif scope is not None:  # read the client too, for the authentication that follows
            row = scope.connection.first(_CLIENT_WITH_LOCK, {"key": key, "client_id": client_id})
            if client_id not in scope.clients:
                scope.clients[client_id] = to_client(row) if row is not None and row.disabled_at is None else None
            until, failures = (row.locked_until, row.failures) if row is not None else (None, None)
        else:
            row = self._first(_COUNTER, {"key": key})
            until, failures = (row.locked_until, row.failures) if row is not None else (None, None)
        if scope is not None:
            scope.counters[key] = failures is not None
        return throttle.seconds_until(until, now)

    def client_auth_failed(self, client_id: str, address: str, now: datetime) -> None:
        if self.get_client(client_id) is None:
            return  # unknown ids are not counted: they would only fill the table
        with self._writing() as db:
            throttle.register_failure(db, now, [(client_throttle_key(client_id, address), CLIENT_AUTH_THRESHOLD)])
            record(db, self.node.clock, "anonymous", "oidc.client.auth_failed", target=f"client:{client_id}",
                   ip=address)

    def client_auth_succeeded(self, client_id: str, address: str) -> None:
        """Delete the counter of this client at this address, if the lock's read found one (outside a request's
        scope, unconditionally): a success on the token endpoint's hot paths writes nothing more. The delete may be
        run twice (a request handed back by the event loop runs again), so it does not mark the scope written."""
        key = client_throttle_key(client_id, address)
        scope = _scope.get()
        if scope is not None and not scope.counters.get(key, True):
            return
        if scope is None or not scope.on_loop:
            self.node.direct_reads.write(_CLEAR_COUNTER, {"key": key})
        else:
            with self._locked_for(scope), scope.connection.transaction():
                scope.connection.execute(_CLEAR_COUNTER, {"key": key})
        if scope is not None:
            scope.counters[key] = False
