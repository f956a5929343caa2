"""The ``passerelle`` command line: one node per invocation, chosen by ``--config`` or ``PASSERELLE_CONFIG``.

Sub-commands are grouped by what they act on (``db``, ``keys``, ``roster``, ``admin`` ...). Errors print one
readable line and exit 2; they never print a trace or a secret.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from nodes import keyring
from nodes.admin_cli import admin_app, roster_app
from nodes.credentials_cli import api_tokens_app, credentials_app
from nodes.oidc.cli import clients_app
from nodes.settings import ConfigError, NodeSettings, load_settings
from nodes.storage.db import make_engine, upgrade

app = typer.Typer(help="Run and administer a Passerelle node.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database migrations and housekeeping.", no_args_is_help=True)
keys_app = typer.Typer(help="The organisation's signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(roster_app, name="roster")
app.add_typer(admin_app, name="admin")
app.add_typer(clients_app, name="clients")
app.add_typer(credentials_app, name="credentials")
app.add_typer(api_tokens_app, name="api-tokens")
console = Console()
err = Console(stderr=True, soft_wrap=True, highlight=False)  # an error is one line, never wrapped


class _State:
    config: Path | None = None


def settings() -> NodeSettings:
    """The node's settings from ``--config``; a wrong setting exits 2 with a message naming it."""
    try:
        return load_settings(_State.config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.callback()
def _main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Node TOML file (or PASSERELLE_CONFIG).")
    ] = None,
) -> None:
    _State.config = config


@app.command()
def init() -> None:
    """Create the data folder, the node secret, the database schema and the organisation's keys (idempotent)."""
    node = settings()
    node.data_dir.mkdir(parents=True, exist_ok=True)
    node.ensure_secret()
    engine = make_engine(node.resolved_database_url)
    upgrade(engine)
    created = keyring.ensure_keys(engine, _secret(node))
    console.print(f"node [bold]{node.display_name}[/bold] ready in {node.data_dir}")
    for kid in created:
        console.print(f"  new key {kid}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Run the database migrations up to the newest revision."""
    node = settings()
    upgrade(make_engine(node.resolved_database_url))
    console.print("database is up to date")


@db_app.command("purge")
def db_purge() -> None:
    """Delete expired tokens, codes and sessions now (serving workers also do it every
    housekeeping_interval_seconds)."""
    from nodes.context import NodeContext
    from nodes.housekeeping import GRACE, purge_expired

    node = settings()
    report = purge_expired(NodeContext(settings=node, engine=make_engine(node.resolved_database_url),
                                       secret=_secret(node)))
    console.print(f"deleted {report.tokens} tokens, {report.codes} codes, {report.sessions} sessions, "
                  f"{report.interactions} authorization requests and {report.assertion_ids} assertion ids "
                  f"that expired more than {GRACE.days} day ago, and {report.failure_counters} failure counters "
                  f"idle as long")


@keys_app.command("rotate")
def keys_rotate(
    purpose: Annotated[
        str, typer.Option(help="'credentials', 'jose', 'jose-rsa', 'jose-eddsa' or 'all'.")
    ] = "all",
) -> None:
    """Make new keys current; previous public keys stay published so earlier signatures still verify."""
    node = settings()
    engine = make_engine(node.resolved_database_url)
    purposes = list(keyring.ALGORITHMS) if purpose == "all" else [purpose]
    for item in purposes:
        if item not in keyring.ALGORITHMS:
            choices = ", ".join(keyring.ALGORITHMS)
            err.print(f"[red]error:[/red] purpose must be one of {choices} or all, not {item!r}")
            raise typer.Exit(2)
        kid = keyring.rotate(engine, _secret(node), item)
        console.print(f"{item}: new current key {kid}")


@keys_app.command("list")
def keys_list() -> None:
    """List the organisation's keys (public information only)."""
    node = settings()
    engine = make_engine(node.resolved_database_url)
    for purpose in keyring.ALGORITHMS:
        for row in keyring.published_keys(engine, purpose):
            console.print(f"{purpose:12} {row.algorithm:8} {row.status:8} {row.kid}  {row.created_at:%Y-%m-%d}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port; default is the base URL's port.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes (one per core).")] = 1,
) -> None:
    """Serve the node with uvicorn (JSON logs); with ``--workers N``, N processes share the port."""
    import uvicorn

    from nodes.app import create_app
    from nodes.gc_tuning import settle_after_startup
    from nodes.observability import configure_logging

    node = settings()
    configure_logging(node.log_level)
    try:
        application = create_app(node)
    except (ConfigError, keyring.KeyringError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except (SQLAlchemyError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(_startup_problem(exc))}")
        raise typer.Exit(2) from None
    from urllib.parse import urlsplit

    listen_port = port or urlsplit(node.base_url).port or 8000
    if workers == 1:
        settle_after_startup()
        uvicorn.run(application, host=host, port=listen_port, log_config=None, access_log=False)
        return
    import os  # the workers are new processes: they rebuild the app from the same file, checked above

    if _State.config is not None:
        os.environ["PASSERELLE_CONFIG"] = str(_State.config.resolve())
    uvicorn.run("nodes.app:app_from_environment", factory=True, workers=workers, host=host, port=listen_port,
                log_config=None, access_log=False)


def _startup_problem(exc: SQLAlchemyError | OSError) -> str:
    """One line naming the setting behind a start-up failure, without the URL or any secret."""
    from nodes.observability import redact

    if isinstance(exc, OSError):
        return f"data_dir: {exc.strerror or type(exc).__name__} ({exc.filename})"
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return redact(f"database_url: the database cannot be used ({type(cause).__name__}: {first_line})")


def _secret(node: NodeSettings) -> bytes:
    try:
        return node.node_secret()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
