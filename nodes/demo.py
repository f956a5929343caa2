"""``./run demo``: initialise and serve the example nodes of ``nodes/examples/`` on loopback, with seeded data.

Each node is initialised (secret, schema, keys), its roster imported from ``nodes/examples/rosters/``, and every
seeded affiliation given its credential through the node's own issuance (what ``passerelle credentials issue
--all`` does), so that signing in to Alumni Hub shows credentials the platform verifies. The first start creates
an admin whose generated password is kept in ``<data_dir>/demo-admin-password`` (0600) so later starts print the
same login. Every start prints a fresh claim link for one member who has not claimed their account yet. Data lives
in ``.demo/``; Ctrl-C stops every server cleanly and the next start keeps the data (and issues no credential twice).
Alumni Hub, the demo platform (:mod:`nodes.examples.platform`), is registered as an OpenID Connect client of both
nodes and served beside them on port 8400.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI
from rich.console import Console
from sqlmodel import Session, col, select

from nodes import keyring
from nodes.admins import make_admin
from nodes.app import create_app
from nodes.context import NodeContext
from nodes.examples.platform.config import PlatformConfig, PlatformConfigError
from nodes.examples.platform.demo_setup import prepare_platform
from nodes.gc_tuning import settle_after_startup
from nodes.invitations import issue_invitations
from nodes.issuance import issue_affiliations, pending_affiliations
from nodes.observability import configure_logging
from nodes.roster.apply import import_roster
from nodes.settings import ConfigError, NodeSettings, load_settings
from nodes.storage.db import make_engine, upgrade
from nodes.storage.models import Member

EXAMPLES = Path(__file__).parent / "examples"
NODE_CONFIGS = ("ecole-exemple.toml", "acme.toml")
console = Console()


@dataclass
class DemoNode:
    """One started example node and what the demo prints about it."""

    name: str
    url: str
    app: FastAPI
    admin_email: str
    admin_password: str
    invitation: str | None
    outbox: Path
    settings: NodeSettings
    credentials_issued: int = 0


def prepare(config: Path, data_root: Path | None = None, port: int | None = None) -> DemoNode:
    """Initialise one example node (idempotent), seed its roster and admin, and build its app.

    ``data_root`` and ``port`` move the node elsewhere than its TOML says (the demo's own test uses them).
    """
    overrides: dict[str, object] = {}
    if data_root is not None:
        overrides["data_dir"] = str(data_root / config.stem)
    if port is not None:
        overrides["base_url"] = f"http://localhost:{port}"
    settings = load_settings(config, **overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.ensure_secret()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    keyring.ensure_keys(engine, settings.node_secret())
    node = NodeContext(settings=settings, engine=engine, secret=settings.node_secret())
    report = import_roster(node, (EXAMPLES / "rosters" / f"{config.stem}.csv").read_bytes(), actor="demo",
                           source=f"rosters/{config.stem}.csv")
    if not report.imported:
        raise SystemExit(f"demo roster of {config.stem} was refused: {report.errors}")
    issued = issue_roster_credentials(node)
    admin_email, admin_password = _ensure_admin(node, config.stem)
    invitation = _fresh_invitation(node)
    engine.dispose()
    return DemoNode(
        name=settings.display_name, url=settings.base_url, app=create_app(settings),
        admin_email=admin_email, admin_password=admin_password, invitation=invitation, outbox=settings.outbox_dir,
        settings=settings, credentials_issued=issued,
    )


def issue_roster_credentials(node: NodeContext) -> int:
    """Issue the affiliation credential of every seeded affiliation that has no live one; returns how many.

    Without them a member who signs in to Alumni Hub gets an empty ``affiliation_credentials`` list and the demo
    never shows the platform verifying one. It goes through the node's own issuance path (status list index,
    signature with the node's key, audit), as ``passerelle credentials issue --all`` does; only affiliations without
    an active or suspended credential are pending, so a later start on the same data issues nothing twice.
    """
    with Session(node.engine) as db:
        pending = pending_affiliations(db, open_badge=False)
    report = issue_affiliations(node, pending, actor="demo")
    if report.skipped:
        raise SystemExit(f"demo credentials of {node.settings.display_name} were refused: {report.skipped}")
    return len(report.issued)


def _ensure_admin(node: NodeContext, stem: str) -> tuple[str, str]:
    email = f"admin@{stem}.example"
    password_file = node.settings.data_dir / "demo-admin-password"
    if not password_file.exists():
        password = secrets.token_urlsafe(12)
        make_admin(node, email, "Demo", "Admin", password=password, actor="demo")
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    return email, password_file.read_text().strip()


def _fresh_invitation(node: NodeContext) -> str | None:
    """A new claim link for the first member who has not claimed their account (earlier links expire)."""
    with Session(node.engine) as db:
        member = db.exec(
            select(Member).where(col(Member.claimed_at).is_(None), col(Member.is_admin).is_(False))
            .order_by(col(Member.id))
        ).first()
    if member is None or member.id is None:
        return None
    return issue_invitations(node, [member.id], actor="demo")[0][1]


def _check_port_free(url: str) -> int:
    port = urlsplit(url).port or 80
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(f"port {port} for {url} is already in use: is another demo running?") from None
    return port


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the demo, which stops every server together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_all(apps: list[tuple[Any, str]]) -> None:
    """Serve each ``(ASGI app, base URL)`` until Ctrl-C."""
    settle_after_startup()
    servers = [
        _Server(uvicorn.Config(app, host="127.0.0.1", port=_check_port_free(url), log_config=None,
                               access_log=False))  # lifespan on: housekeeping, pools closed
        for app, url in apps
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(s.serve() for s in servers))


def show(nodes: list[DemoNode], platform: PlatformConfig) -> None:
    """Print the platform, then each node, plainly (no table): links must survive copy and paste."""
    console.print("[bold]Passerelle demo[/bold]\n")
    console.print(f"[bold]{platform.display_name}[/bold] (demo platform)  {platform.base_url}", soft_wrap=True)
    console.print(f"  sign in with       {', '.join(n.name for n in platform.networks if n.registered)}\n",
                  soft_wrap=True)
    for n in nodes:
        console.print(f"[bold]{n.name}[/bold]  {n.url}", soft_wrap=True)
        console.print(f"  admin login        {n.admin_email} / {n.admin_password}", soft_wrap=True)
        console.print(f"  member invitation  {n.invitation or '(every member has claimed an account)'}", soft_wrap=True)
        console.print(f"  credentials        {n.credentials_issued} affiliation credentials issued at this start",
                      soft_wrap=True)
        console.print(f"  invitation e-mails {n.outbox}", soft_wrap=True)
        console.print(f"  data               {n.outbox.parent}\n", soft_wrap=True)
    console.print("Press Ctrl-C to stop. Each node keeps its data folder for the next start.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--data-root", type=Path, help="keep the nodes' data here instead of .demo/")
    parser.add_argument("--ports", type=int, nargs=len(NODE_CONFIGS) + 1, metavar="PORT",
                        help="serve the nodes, then the platform, on these ports instead of their configured ones")
    args = parser.parse_args(argv)
    configure_logging()
    ports = args.ports or [None] * (len(NODE_CONFIGS) + 1)
    try:
        nodes = [prepare(EXAMPLES / name, args.data_root, port)
                 for name, port in zip(NODE_CONFIGS, ports[:-1], strict=True)]
        by_key = {Path(name).stem: node.settings for name, node in zip(NODE_CONFIGS, nodes, strict=True)}
        platform, platform_app = prepare_platform(by_key, args.data_root, ports[-1])
    except (ConfigError, PlatformConfigError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    show(nodes, platform)
    asyncio.run(serve_all([(platform_app, platform.base_url), *((n.app, n.url) for n in nodes)]))
    console.print("demo stopped")


if __name__ == "__main__":
    main()
