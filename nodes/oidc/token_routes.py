"""Discovery, token, revocation, introspection and UserInfo endpoints: thin routes over the provider core.

These are the node's busiest endpoints, so each does the least it can: it reads the request once on the event loop
(:func:`nodes.oidc.adapter.oauth_request`, called directly rather than as a FastAPI dependency), then makes one hop
to a worker thread where the synchronous core runs, all its store calls sharing one database session. Token,
introspection and UserInfo answers carry ``Cache-Control: no-store`` (SECURITY O22).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from federation.oidc.discovery import provider_metadata
from federation.oidc.http import HttpRequest, HttpResponse
from federation.oidc.provider import Provider
from nodes.oidc.adapter import oauth_request, to_response
from nodes.oidc.node_provider import one_session, provider_of
from nodes.web.sessions import node_of
from nodes.web.threads import run_limited

router = APIRouter()


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = provider_metadata(provider.config.issuer, with_credentials=provider.credential_source is not None)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


@router.post("/token")
async def token(request: Request) -> Response:
    return await _serve(request, Provider.token)


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    return await _serve(request, Provider.revoke)


@router.post("/introspect")
async def introspect(request: Request) -> Response:
    return await _serve(request, Provider.introspect)


@router.get("/userinfo")
async def userinfo_get(request: Request) -> Response:
    return await _serve(request, Provider.userinfo, read_only=True)


@router.post("/userinfo")
async def userinfo_post(request: Request) -> Response:
    return await _serve(request, Provider.userinfo, read_only=True)


Endpoint = Callable[[Provider, HttpRequest], HttpResponse]


#: Threads per worker that run the provider core at once (:mod:`nodes.web.threads`), by database. On SQLite the
#: core waits on nothing but the GIL and the write lock: two threads keep the event loop fed, and more only
#: contend (refresh grants' p99 64 ms with two, 74-124 ms with four, at the same rate). On PostgreSQL a thread
#: spends much of a request waiting on the network, and three overlap those waits: refresh grants 1,051/s
#: (p99 83 ms) with two, 1,261/s (p99 74 ms) with three, 1,362/s (p99 118 ms) with four, 1,100/s with six.
OIDC_THREADS = {"sqlite": 2, "postgresql": 3}


async def _serve(request: Request, endpoint: Endpoint, read_only: bool = False) -> Response:
    """Read the request on the event loop, then run the core, which blocks on the database, in a worker thread.

    The store reads on its direct pool (:mod:`nodes.storage.direct`). ``read_only`` endpoints (UserInfo writes
    nothing, and reads once: :mod:`nodes.oidc.userinfo_read`) run on the event loop itself on SQLite: the read of
    a local file takes some 30 µs, less than the hop to a worker thread and back, which had become the largest
    part of a UserInfo answer. A PostgreSQL read waits on the network, and a write may wait on SQLite's lock, so
    there the hop stays.
    """
    oauth = await oauth_request(request)
    answer = functools.partial(_answer, request, endpoint, oauth)
    database = node_of(request).engine.dialect.name
    if read_only and database == "sqlite":
        return answer()
    return await run_limited("oidc", OIDC_THREADS.get(database, 3), answer)


def _answer(request: Request, endpoint: Endpoint, oauth: HttpRequest) -> Response:
    provider = provider_of(request)
    with one_session(provider):
        return to_response(endpoint(provider, oauth))
