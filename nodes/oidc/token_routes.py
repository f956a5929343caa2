"""Discovery, token, revocation, introspection and UserInfo endpoints: thin routes over the provider core.

Each route reads the request once (:func:`nodes.oidc.adapter.oauth_request`) and calls the synchronous core from
a plain ``def``. Token, introspection and UserInfo answers carry ``Cache-Control: no-store`` (SECURITY O22).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from federation.oidc.discovery import provider_metadata
from nodes.oidc.adapter import OAuthRequest, to_response
from nodes.oidc.node_provider import provider_of

router = APIRouter()


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> JSONResponse:
    provider = provider_of(request)
    body = provider_metadata(provider.config.issuer, with_credentials=provider.credential_source is not None)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


@router.post("/token")
def token(request: Request, oauth: OAuthRequest) -> Response:
    return to_response(provider_of(request).token(oauth))


@router.post("/revoke")
def revoke(request: Request, oauth: OAuthRequest) -> Response:
    return to_response(provider_of(request).revoke(oauth))


@router.post("/introspect")
def introspect(request: Request, oauth: OAuthRequest) -> Response:
    return to_response(provider_of(request).introspect(oauth))


@router.get("/userinfo")
def userinfo_get(request: Request, oauth: OAuthRequest) -> Response:
    return to_response(provider_of(request).userinfo(oauth))


@router.post("/userinfo")
def userinfo_post(request: Request, oauth: OAuthRequest) -> Response:
    return to_response(provider_of(request).userinfo(oauth))
