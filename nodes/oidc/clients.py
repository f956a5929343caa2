"""Registering platforms (OAuth clients) from the admin page or the CLI.

The client secret is 256 random bits, shown once and stored as its SHA-256. Redirect URIs are stored exactly as
given and compared exactly (RFC 9700 §2.1); they must be absolute ``https`` URLs without fragment or user info,
or ``http`` on a loopback host (RFC 8252 §7.3). A client whose redirect URIs span several hosts needs a
``sector_identifier_uri`` to give its pairwise subjects one sector (OpenID Connect Core §8.1). The node fetches that
document when the client is registered and refuses the registration unless it lists every redirect URI (OpenID
Connect Registration §2): otherwise a platform could name another's host as its sector and receive the same
pairwise subjects, which pairwise subjects exist to prevent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from credentials.keys import KeyError_, public_key_from_jwk
from federation.oidc.id_token import ID_TOKEN_ALGORITHMS
from federation.oidc.models import AUTH_METHODS, secret_hash
from federation.oidc.subject import SUBJECT_TYPES, SectorError, sector_identifier
from nodes import keyring
from nodes.audit import record
from nodes.context import NodeContext
from nodes.fetch import FetchError
from nodes.storage.db import transaction
from nodes.storage.oidc_tables import OidcClient

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_URIS = 10
MAX_URI = 2000


class ClientRegistrationError(ValueError):
    """A registration refused; the message names the field."""


@dataclass
class ClientRegistration:
    """What an admin fills in to register a platform."""

    name: str
    redirect_uris: list[str]
    auth_method: str = "client_secret_basic"
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    subject_type: str = "pairwise"
    id_token_alg: str = "ES256"  # noqa: S105 (an algorithm name)
    sector_identifier_uri: str | None = None
    logo_uri: str | None = None
    policy_uri: str | None = None
    jwks: list[dict[str, Any]] = field(default_factory=list)
    allow_refresh: bool = True


def check_uri(value: str, what: str) -> str:
    """An absolute https URL (or http on loopback) without fragment, user info or wildcard."""
    if not value or len(value) > MAX_URI or any(ord(c) < 0x21 or c == "\x7f" for c in value):
        raise ClientRegistrationError(f"{what}: {value!r} is empty, too long or contains spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ClientRegistrationError(f"{what}: {value!r} is not a URL") from exc
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise ClientRegistrationError(f"{what}: {value!r} must be an https URL (http only on localhost)")
    if parts.fragment or "#" in value or parts.username or parts.password or "*" in value:
        raise ClientRegistrationError(f"{what}: {value!r} must not contain a fragment, user info or wildcard")
    return value


def _check(reg: ClientRegistration) -> tuple[str, list[dict[str, Any]]]:
    name = reg.name.strip()
    if not 0 < len(name) <= 200 or any(ord(c) < 0x20 for c in name):
        raise ClientRegistrationError("name: 1 to 200 printable characters")
    if not 0 < len(reg.redirect_uris) <= MAX_URIS or len(reg.post_logout_redirect_uris) > MAX_URIS:
        raise ClientRegistrationError(f"redirect_uris: between 1 and {MAX_URIS} URIs")
    for uri in reg.redirect_uris:
        check_uri(uri, "redirect_uri")
    for uri in reg.post_logout_redirect_uris:
        check_uri(uri, "post_logout_redirect_uri")
    for value, what in ((reg.logo_uri, "logo_uri"), (reg.policy_uri, "policy_uri"),
                        (reg.sector_identifier_uri, "sector_identifier_uri")):
        if value:
            check_uri(value, what)
    if reg.auth_method not in AUTH_METHODS:
        raise ClientRegistrationError(f"auth_method: one of {', '.join(AUTH_METHODS)}")
    if reg.subject_type not in SUBJECT_TYPES:
        raise ClientRegistrationError("subject_type: pairwise or public")
    if reg.id_token_alg not in ID_TOKEN_ALGORITHMS:
        raise ClientRegistrationError(f"id_token_alg: one of {', '.join(ID_TOKEN_ALGORITHMS)}")
    try:
        sector = sector_identifier(reg.redirect_uris, reg.sector_identifier_uri)
    except SectorError as exc:
        raise ClientRegistrationError(f"sector_identifier_uri: {exc}") from exc
    return sector, _check_jwks(reg)


def _check_jwks(reg: ClientRegistration) -> list[dict[str, Any]]:
    if reg.auth_method != "private_key_jwt":
        if reg.jwks:
            raise ClientRegistrationError("jwks: only for private_key_jwt clients")
        return []
    if not reg.jwks or len(reg.jwks) > 5:
        raise ClientRegistrationError("jwks: a private_key_jwt client needs 1 to 5 public keys")
    kids = [k.get("kid") for k in reg.jwks]
    if len(reg.jwks) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise ClientRegistrationError("jwks: several keys need distinct 'kid' values")
    for jwk in reg.jwks:
        try:
            public_key_from_jwk(jwk)
        except KeyError_ as exc:
            raise ClientRegistrationError(f"jwks: {exc}") from exc
    return [dict(k) for k in reg.jwks]


def _check_sector_document(node: NodeContext, uri: str, redirect_uris: list[str]) -> None:
    """The document at ``uri`` is a JSON array of URIs that lists every one of ``redirect_uris``."""
    try:
        listed = node.fetcher.fetch_json_array(uri)
    except FetchError as exc:
        raise ClientRegistrationError(f"sector_identifier_uri: {uri} could not be read: {exc}") from exc
    if not all(isinstance(item, str) for item in listed):
        raise ClientRegistrationError("sector_identifier_uri: the document must be a JSON array of redirect URIs")
    missing = [item for item in redirect_uris if item not in listed]
    if missing:
        raise ClientRegistrationError(f"sector_identifier_uri: the document at {uri} does not list {missing[0]}")


def register_client(node: NodeContext, reg: ClientRegistration, actor: str) -> tuple[OidcClient, str | None]:
    """Store a new client; returns it and its secret (``None`` for public and ``private_key_jwt`` clients).

    The secret is returned once, here, and never stored or logged.
    """
    sector, jwks = _check(reg)
    if reg.sector_identifier_uri:
        _check_sector_document(node, reg.sector_identifier_uri, reg.redirect_uris)
    keyring.ensure_keys(node.engine, node.secret, node.clock)  # the ID token key of any algorithm exists
    secret = secrets.token_urlsafe(32) if reg.auth_method.startswith("client_secret") else None
    row = OidcClient(
        client_id=secrets.token_urlsafe(18), name=reg.name.strip(),
        secret_hash=secret_hash(secret) if secret else None, auth_method=reg.auth_method,
        redirect_uris=list(reg.redirect_uris), post_logout_redirect_uris=list(reg.post_logout_redirect_uris),
        subject_type=reg.subject_type, sector=sector, sector_identifier_uri=reg.sector_identifier_uri or None,
        id_token_alg=reg.id_token_alg, jwks=jwks, logo_uri=reg.logo_uri or None, policy_uri=reg.policy_uri or None,
        allow_refresh=reg.allow_refresh, created_at=node.clock(), created_by=actor,
    )
    with transaction(node.engine) as db:
        db.add(row)
        record(db, node.clock, actor, "oidc.client.created", target=f"client:{row.client_id}", name=row.name,
               auth_method=row.auth_method, subject_type=row.subject_type, redirect_uris=row.redirect_uris)
    return row, secret


def list_clients(node: NodeContext) -> list[OidcClient]:
    with Session(node.engine) as db:
        return list(db.exec(select(OidcClient).order_by(col(OidcClient.created_at))))


def disable_client(node: NodeContext, client_id: str, actor: str) -> bool:
    """Disable a client: it can no longer authorize, and its tokens are refused (it is unknown from now on)."""
    with transaction(node.engine) as db:
        row = db.get(OidcClient, client_id)
        if row is None or row.disabled_at is not None:
            return False
        row.disabled_at = node.clock()
        db.add(row)
        record(db, node.clock, actor, "oidc.client.disabled", target=f"client:{client_id}")
    return True
