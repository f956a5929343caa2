"""``passerelle clients``: register and list the platforms (OpenID Connect clients) of a node.

``clients add`` prints the client secret once; it is stored only as a hash and cannot be shown again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from nodes.context import NodeContext
from nodes.oidc.clients import ClientRegistration, ClientRegistrationError, list_clients, register_client
from nodes.storage.db import make_engine

clients_app = typer.Typer(help="Platforms that sign their users in with this node (OpenID Connect).",
                          no_args_is_help=True)
console = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _node() -> NodeContext:
    from nodes.cli import _secret, settings  # the --config option lives with the main app

    node = settings()
    return NodeContext(settings=node, engine=make_engine(node.resolved_database_url), secret=_secret(node))


@clients_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Platform name shown on the consent page.")],
    redirect_uri: Annotated[list[str], typer.Option(help="Redirect URI (repeat for several).")],
    public: Annotated[bool, typer.Option(help="A public client (no secret; PKCE only).")] = False,
    auth_method: Annotated[
        str, typer.Option(help="client_secret_basic, client_secret_post, private_key_jwt or none.")
    ] = "client_secret_basic",
    subject_type: Annotated[str, typer.Option(help="pairwise (default) or public.")] = "pairwise",
    id_token_alg: Annotated[str, typer.Option(help="ES256 (default), RS256 or EdDSA.")] = "ES256",  # noqa: S107
    post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option(help="Where logout may send the member back (repeat for several).")
    ] = None,
    sector_identifier_uri: Annotated[str | None, typer.Option(help="Needed when redirect URIs span hosts.")] = None,
    logo_uri: Annotated[str | None, typer.Option(help="Logo shown on the consent page.")] = None,
    policy_uri: Annotated[str | None, typer.Option(help="The platform's privacy policy.")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option(help="JSON file with the public keys of a private_key_jwt client.")
    ] = None,
    no_refresh: Annotated[bool, typer.Option(help="Never issue refresh tokens to this client.")] = False,
) -> None:
    """Register a platform and print its client id and, once, its secret."""
    node = _node()
    try:
        jwks = _read_jwks(jwks_file)
        registration = ClientRegistration(
            name=name, redirect_uris=list(redirect_uri), auth_method="none" if public else auth_method,
            post_logout_redirect_uris=list(post_logout_redirect_uri or []), subject_type=subject_type,
            id_token_alg=id_token_alg, sector_identifier_uri=sector_identifier_uri, logo_uri=logo_uri,
            policy_uri=policy_uri, jwks=jwks, allow_refresh=not no_refresh,
        )
        row, secret = register_client(node, registration, actor="cli")
    except ClientRegistrationError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"client_id: {row.client_id}")
    if secret:
        console.print(f"client_secret: {secret}")
        console.print("[yellow]The secret is shown only now; it is stored as a hash.[/yellow]")
    console.print(f"token_endpoint_auth_method: {row.auth_method}; subject_type: {row.subject_type}; "
                  f"id_token_signed_response_alg: {row.id_token_alg}")


def _read_jwks(path: Path | None) -> list[dict[str, object]]:
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ClientRegistrationError(f"jwks_file: {exc}") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ClientRegistrationError("jwks_file: expected a JSON Web Key Set {\"keys\": [...]}")
    return keys


@clients_app.command("list")
def list_() -> None:
    """List the registered platforms (no secrets)."""
    for row in list_clients(_node()):
        state = "disabled" if row.disabled_at else "active"
        console.print(f"{row.client_id}  {escape(row.name)}  {row.auth_method}  {row.subject_type}  "
                      f"{row.id_token_alg}  {state}  {' '.join(row.redirect_uris)}")
