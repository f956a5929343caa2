"""Admin pages for platforms (OpenID Connect clients): list, register (the secret is shown once), disable."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from nodes.oidc.clients import (
    ClientRegistration,
    ClientRegistrationError,
    disable_client,
    list_clients,
    register_client,
)
from nodes.web.deps import AdminDep, CsrfChecked
from nodes.web.pages import render
from nodes.web.sessions import node_of

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.get("/admin/clients", response_class=HTMLResponse)
def clients_page(request: Request, admin: AdminDep) -> HTMLResponse:
    return _page(request, error=None, status=200)


def _page(request: Request, error: str | None, status: int, form: dict[str, str] | None = None) -> HTMLResponse:
    context = {"clients": list_clients(node_of(request)), "error": error, "form": form or {}}
    return render(request, "oidc/admin_clients.html", context, status_code=status, headers=NO_STORE)


@router.post("/admin/clients", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_client(
    request: Request,
    admin: AdminDep,
    name: Annotated[str, Form()] = "",
    redirect_uris: Annotated[str, Form()] = "",
    post_logout_redirect_uris: Annotated[str, Form()] = "",
    auth_method: Annotated[str, Form()] = "client_secret_basic",
    subject_type: Annotated[str, Form()] = "pairwise",
    id_token_alg: Annotated[str, Form()] = "ES256",  # noqa: S107 (an algorithm name)
    sector_identifier_uri: Annotated[str, Form()] = "",
    logo_uri: Annotated[str, Form()] = "",
    policy_uri: Annotated[str, Form()] = "",
    jwks: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Register a platform; the next page shows its secret, once."""
    form = {"name": name, "redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout_redirect_uris,
            "auth_method": auth_method, "subject_type": subject_type, "id_token_alg": id_token_alg,
            "sector_identifier_uri": sector_identifier_uri, "logo_uri": logo_uri, "policy_uri": policy_uri,
            "jwks": jwks}
    try:
        keys = _jwks(jwks)
        registration = ClientRegistration(
            name=name, redirect_uris=_lines(redirect_uris), auth_method=auth_method,
            post_logout_redirect_uris=_lines(post_logout_redirect_uris), subject_type=subject_type,
            id_token_alg=id_token_alg, sector_identifier_uri=sector_identifier_uri or None,
            logo_uri=logo_uri or None, policy_uri=policy_uri or None, jwks=keys,
        )
        row, secret = register_client(node_of(request), registration, actor=admin.public_id)
    except ClientRegistrationError as exc:
        return _page(request, error=str(exc), status=400, form=form)
    return render(request, "oidc/admin_client_created.html", {"client": row, "secret": secret}, headers=NO_STORE)


def _jwks(text: str) -> list[dict[str, object]]:
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientRegistrationError("jwks: not JSON") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ClientRegistrationError('jwks: expected {"keys": [...]}')
    return keys


@router.post("/admin/clients/{client_id}/disable", dependencies=[CsrfChecked])
def disable(request: Request, client_id: str, admin: AdminDep) -> RedirectResponse:
    disable_client(node_of(request), client_id[:64], actor=admin.public_id)
    return RedirectResponse("/admin/clients", status_code=303, headers=NO_STORE)
