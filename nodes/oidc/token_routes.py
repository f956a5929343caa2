"""Discovery, token, revocation, introspection and UserInfo endpoints: thin routes over the provider core.

Token, revocation, introspection and UserInfo are the node's busiest endpoints, so each does the least it can. They
are plain Starlette routes (:data:`HOT_ROUTES`) that the app tries before any FastAPI router: FastAPI's router walk
and its per-request dependency solving cost about a third of a UserInfo answer, for endpoints that take no
parameters FastAPI could parse (the core reads the request itself). The routes still sit inside every middleware
(headers, body limit, metrics, masked errors) and the app's exception handlers; they are left out of the OpenAPI
document, as discovery (``/.well-known/openid-configuration``) is where OpenID Connect clients learn them.

Each reads the request once on the event loop (:func:`nodes.oidc.adapter.oauth_request`). Token, revocation and
introspection then run the synchronous core, all its store calls sharing one database connection: on PostgreSQL in
a worker thread; on SQLite first on the event loop itself, going to a worker thread only when a store call would
wait (ADR 0600). UserInfo, which writes nothing and reads one row, reads that row ahead (coalesced with the
UserInfo reads waiting at the same time) and answers on the event loop. Token, introspection and UserInfo answers
carry ``Cache-Control: no-store`` (SECURITY O22).
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from federation.oidc.discovery import provider_metadata
from federation.oidc.endpoints import bearer_token
from federation.oidc.http import HttpRequest, HttpResponse
from federation.oidc.models import secret_hash
from federation.oidc.provider import Provider
from nodes.oidc.adapter import oauth_request, to_response
from nodes.oidc.node_provider import one_session, provider_of
from nodes.oidc.store import SqlProviderStore
from nodes.oidc.token_reads import CoalescedReads
from nodes.storage.direct import DirectRow, WouldBlock
from nodes.web.sessions import node_of
from nodes.web.threads import run_limited

router = APIRouter()
#: What coalesced reads are keyed by: an access token's hash (UserInfo); a refresh token's hash with its request's
#: address (a refresh grant, whose client's lockout at that address is read with the token).
K = TypeVar("K", str, tuple[str, str])


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = provider_metadata(provider.config.issuer, with_credentials=provider.credential_source is not None)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


async def token(request: Request) -> Response:
    return await _serve(request, Provider.token)


async def revoke(request: Request) -> Response:
    return await _serve(request, Provider.revoke)


async def introspect(request: Request) -> Response:
    return await _serve(request, Provider.introspect)


async def userinfo(request: Request) -> Response:
    """Read the token ahead, then answer on the event loop from what was read, with no other read.

    The read (one statement: :mod:`nodes.oidc.userinfo_read`) runs in a worker thread, together with those of the
    UserInfo requests waiting at the same time (:mod:`nodes.oidc.token_reads`); a request that presents no bearer
    token reads nothing, and the core answers it.
    """
    oauth = await oauth_request(request)
    provider = provider_of(request)
    store = provider.store
    assert isinstance(store, SqlProviderStore)  # what build_provider gives every node
    try:
        token_hash = secret_hash(bearer_token(oauth))
    except OAuth2Error:
        read_ahead: dict[str, DirectRow | None] = {}
    else:
        read_ahead = {token_hash: await _userinfo_reads(request, store).read(token_hash)}
    with store.one_session(read_ahead):
        return to_response(provider.userinfo(oauth))


def _userinfo_reads(request: Request, store: SqlProviderStore) -> CoalescedReads[str, DirectRow | None]:
    return _coalesced(request, "userinfo_reads", store.read_access_tokens, store)


def _coalesced(request: Request, name: str, read_many: Callable[[list[K]], dict[K, DirectRow | None]],
               store: SqlProviderStore) -> CoalescedReads[K, DirectRow | None]:
    """The node's coalesced reads ``name`` in the running event loop (their futures belong to it), made on first
    use; each read takes one of the OIDC threads."""
    loop = asyncio.get_running_loop()
    by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CoalescedReads[K, DirectRow | None]] = (
        getattr(request.app.state, name))
    reads = by_loop.get(loop)
    if reads is None:
        reads = by_loop[loop] = CoalescedReads(
            read_many, functools.partial(run_limited, "oidc", _oidc_threads(store.engine.dialect.name)))
    return reads


class HotRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's routes do, for the metrics and the request
    log (:mod:`nodes.web.edge`), which count answers under the route's template."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


#: Installed ahead of the FastAPI routers by :func:`nodes.app.create_app`.
HOT_ROUTES = (
    HotRoute("/token", token, methods=["POST"]),
    HotRoute("/revoke", revoke, methods=["POST"]),
    HotRoute("/introspect", introspect, methods=["POST"]),
    HotRoute("/userinfo", userinfo, methods=["GET", "POST"]),
)


Endpoint = Callable[[Provider, HttpRequest], HttpResponse]


#: Threads per worker that run the provider core at once (:mod:`nodes.web.threads`), by database. On SQLite they
#: serve revocations and the requests handed back by the event loop (a lock held elsewhere); the core waits on
#: nothing but the GIL and the write lock there, and two threads were measured best when they served every token
#: request (refresh grants' p99 64 ms with two, 74-124 ms with four, at the same rate). On PostgreSQL a thread
#: spends much of a request waiting on the network, and a few overlap those waits: refresh grants on one core,
#: 64 clients, 920/s with two threads, 1,016/s with three, 1,073/s (p99 85 ms) with four, 1,061/s (p99 103 ms)
#: with six, 1,003/s with eight.
OIDC_THREADS = {"sqlite": 2, "postgresql": 4}


def _oidc_threads(database: str) -> int:
    """The OIDC thread budget for the node's database (a server database waits on the network, as PostgreSQL)."""
    return OIDC_THREADS.get(database, OIDC_THREADS["postgresql"])


async def _serve(request: Request, endpoint: Endpoint) -> Response:
    """Read the request on the event loop, then run the core.

    The store reads on its direct pool (:mod:`nodes.storage.direct`) and may write (a rotation, a revocation, a
    client's failed authentication). On PostgreSQL every statement waits on the network, so the core runs in a
    worker thread; a refresh grant's token is read before (with its client, member, and the client's lockout at
    the request's address), in one statement with the tokens of the refresh grants that arrive at the same time,
    each paired with its request's address, as UserInfo's reads are (:mod:`nodes.oidc.token_reads`), and the
    core's only statement is then the rotation. On SQLite, token and
    introspection requests are first answered on the event loop itself (ADR 0600): SQLite answers in
    microseconds, and the thread hop with its interpreter-lock hand-offs cost more than the statements. Nothing
    there may wait, though: where a store call would (a lock held by another writer, a path that writes through
    the ORM session), it raises :class:`~nodes.storage.direct.WouldBlock` before anything is written, and the
    request is run again in a worker thread. Revocation always writes through the session, so it goes to the
    thread directly.
    """
    oauth = await oauth_request(request)
    presented = _presented_grant(endpoint, oauth)
    database = node_of(request).engine.dialect.name
    if database == "sqlite" and endpoint is not Provider.revoke:
        try:
            return _answer(request, endpoint, oauth, presented, on_loop=True)
        except WouldBlock:
            pass  # nothing was written: run it where it may wait
    refresh_rows = None
    if presented.refresh_hash is not None and database != "sqlite":
        store = provider_of(request).store
        assert isinstance(store, SqlProviderStore)  # what build_provider gives every node
        refresh_rows = {presented.refresh_hash: await _coalesced(
            request, "refresh_reads", store.read_refresh_tokens, store).read((presented.refresh_hash, oauth.peer))}
    answer = functools.partial(_answer, request, endpoint, oauth, presented, refresh_rows=refresh_rows)
    return await run_limited("oidc", _oidc_threads(database), answer)


def _answer(request: Request, endpoint: Endpoint, oauth: HttpRequest, presented: PresentedGrant,
            on_loop: bool = False, refresh_rows: dict[str, DirectRow | None] | None = None) -> Response:
    provider = provider_of(request)
    with one_session(provider, presented.refresh_hash, on_loop=on_loop, refresh_rows=refresh_rows,
                     code_hash=presented.code_hash, address=oauth.peer):
        return to_response(endpoint(provider, oauth))


class PresentedGrant(NamedTuple):
    """The hash of what a token request trades: the store reads it with its client and the lockout at the
    request's address when the client authenticates, and with what the grant needs, in one statement. None for a
    request that repeats a parameter, which the core refuses before reading anything
    (:func:`federation.oidc.http.refuse_repeated`)."""

    refresh_hash: str | None = None
    code_hash: str | None = None


def _presented_grant(endpoint: Endpoint, oauth: HttpRequest) -> PresentedGrant:
    if endpoint is not Provider.token:
        return PresentedGrant()
    params = dict(oauth.params)
    if len(params) != len(oauth.params):
        return PresentedGrant()
    grant_type = params.get("grant_type")
    if grant_type == "refresh_token" and params.get("refresh_token"):
        return PresentedGrant(refresh_hash=secret_hash(params["refresh_token"]))
    if grant_type == "authorization_code" and params.get("code"):
        return PresentedGrant(code_hash=secret_hash(params["code"]))
    return PresentedGrant()
