"""Public identity documents: the organisation's ``did:web`` DID document and its JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nodes import keyring
from nodes.web.sessions import node_of

router = APIRouter()
CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/.well-known/did.json")
def did_json(request: Request) -> JSONResponse:
    node = node_of(request)
    doc: dict[str, Any] = keyring.did_doc(node.engine, node.did)
    return JSONResponse(doc, media_type="application/did+json", headers=CACHE)


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> JSONResponse:
    return JSONResponse(keyring.jwks(node_of(request).engine), media_type="application/jwk-set+json", headers=CACHE)
