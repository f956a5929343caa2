"""The VC-API endpoints (https://w3c-ccg.github.io/vc-api/), the alumni context and the status list credentials.

- ``POST /credentials/issue``: an administrator, by session or with an API bearer token (``passerelle api-tokens
  add``); anyone else gets 401 (or 403 for a signed-in member who is not an administrator) before the body is
  read. Bad input is 400/422 problem+json, nothing stored, no index reserved (V13); ``Idempotency-Key`` (V14).
  A session needs no CSRF token here: the body must be JSON, which another site's page can only send after a CORS
  preflight that this node never answers, and the ``SameSite=Lax`` cookie is not sent with a cross-site POST.
- ``POST /credentials/verify`` and ``POST /presentations/verify``: public; 200 with the result when verified, 400
  with the same result (``verified: false`` and every check) when not (V1).
- ``GET /contexts/alumni/v1``: the bundled alumni context, the same bytes.
- ``GET /status/{purpose}/{number}``: the signed status list credential, ``Cache-Control`` aligned to its ``ttl``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from nodes.api_tokens import authenticate
from nodes.issuance import IssuanceProblem
from nodes.issue_document import issue_document
from nodes.status_lists import StatusListRollback
from nodes.status_publish import published_list
from nodes.storage.models import Member
from nodes.verification import verify_credential_for, verify_presentation_for
from nodes.web.deps import current_member, peer_address
from nodes.web.errors import ProblemError
from nodes.web.json_body import read_json
from nodes.web.sessions import node_of
from nodes.web.threads import run_limited
from schemas.loader import context_bytes

log = logging.getLogger("passerelle.vc_api")
router = APIRouter()
ALUMNI_CONTEXT = "https://w3id.org/passerelle/alumni/v1"
NO_STORE = {"Cache-Control": "no-store"}
PUBLIC = {"Access-Control-Allow-Origin": "*"}


def api_admin(request: Request) -> Member:
    """The administrator behind the request: a bearer token, else the browser session. 401 or 403 otherwise."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        member = authenticate(node_of(request), token.strip()) if scheme.lower() == "bearer" else None
        if member is None:
            raise ProblemError(401, "invalid_token", "The bearer token is missing, unknown or revoked.",
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return member
    member = current_member(request)
    if member is None:
        raise ProblemError(401, "unauthorized", "Issuing needs an administrator's session or API token.",
                           {"WWW-Authenticate": "Bearer"})
    if not member.is_admin:
        raise ProblemError(403, "forbidden", "Only the organisation's administrators may issue credentials.")
    return member


@router.post("/credentials/issue")
async def issue(request: Request) -> JSONResponse:
    admin = await run_in_threadpool(api_admin, request)  # reads the token or the session: not on the event loop
    body = await read_json(request)
    node = node_of(request)
    ip = peer_address(request)
    try:
        credential, created = await run_in_threadpool(
            issue_document, node, body, actor=admin.public_id, ip=ip,
            idempotency_key=request.headers.get("idempotency-key"),
        )
    except IssuanceProblem as exc:
        raise ProblemError(exc.status, exc.code, exc.detail) from None
    return JSONResponse({"verifiableCredential": credential}, status_code=201 if created else 200, headers=NO_STORE)


@router.post("/credentials/verify")
async def verify_credential(request: Request) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("verifiableCredential"), dict):
        raise ProblemError(400, "invalid_request", "send {\"verifiableCredential\": {...}}")
    result = await run_limited("verify", VERIFY_THREADS, functools.partial(
        verify_credential_for, node_of(request), body["verifiableCredential"]))
    return _result(result.verified, result.to_json())


@router.post("/presentations/verify")
async def verify_presentation(request: Request) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("verifiablePresentation"), dict):
        raise ProblemError(400, "invalid_request", "send {\"verifiablePresentation\": {...}, \"options\": {...}}")
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise ProblemError(400, "invalid_request", "'options' must be an object")
    result = await run_limited("verify", VERIFY_THREADS, functools.partial(
        verify_presentation_for, node_of(request), body["verifiablePresentation"], options.get("challenge"),
        options.get("domain")))
    return _result(result.verified, result.to_json())


#: Threads per worker that verify at once (:mod:`nodes.web.threads`): about 1,000 -> 1,250 requests/s on 2 workers
#: against the default forty (bench/verify_http.py). Not fewer, so that a slow did:web fetch (bounded by the
#: fetcher's deadline) does not stall the others.
VERIFY_THREADS = 8


def _result(verified: bool, data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, status_code=200 if verified else 400, headers=NO_STORE)


@router.get("/contexts/alumni/v1")
def alumni_context() -> Response:
    """The bundled context, byte for byte (its SHA-256 is in ``schemas/contexts/index.json``)."""
    return Response(context_bytes(ALUMNI_CONTEXT), media_type="application/ld+json",
                    headers={"Cache-Control": "public, max-age=86400", **PUBLIC})


@router.get("/status/{purpose}/{number}")
def status_list(request: Request, purpose: str, number: int) -> JSONResponse:
    node = node_of(request)
    if not 0 < number < 10**9:
        raise ProblemError(404, "not_found", "No such status list.")
    try:
        published = published_list(node, purpose, number)
    except StatusListRollback:
        raise ProblemError(503, "temporarily_unavailable", "This status list cannot be published right now.",
                           {"Retry-After": "60"}) from None
    if published is None:
        raise ProblemError(404, "not_found", "No such status list.")
    headers = {"Cache-Control": f"public, max-age={published.ttl_seconds}", "ETag": f'"{number}-{published.version}"',
               **PUBLIC}
    return JSONResponse(published.document, media_type="application/vc", headers=headers)

