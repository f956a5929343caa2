"""The app factory: ``create_app(settings)`` builds one node. No import-time engine or settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from nodes import keyring
from nodes.clock import Clock, utc_now
from nodes.context import NodeContext
from nodes.observability import Metrics
from nodes.settings import NodeSettings
from nodes.storage.db import make_engine, upgrade
from nodes.web import errors, limits
from nodes.web.edge import SECURITY_HEADERS, Edge
from nodes.web.pages import make_templates

__all__ = ["SECURITY_HEADERS", "create_app"]

STATIC = Path(__file__).parent / "static"


def create_app(settings: NodeSettings, clock: Clock = utc_now) -> FastAPI:
    """Build a node app: open the database (migrating it when ``run_migrations``), check its keys, mount routes."""
    secret = settings.node_secret()  # a missing or weak secret stops start-up before the database is touched
    engine = make_engine(settings.resolved_database_url, timeout=settings.database_timeout_seconds)
    if settings.run_migrations:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(engine)
    node = NodeContext(settings=settings, engine=engine, secret=secret, clock=clock)
    keyring.current_signing_key(engine, node.secret, "jose")  # fail fast: 'passerelle init' not run
    from nodes import status_lists

    status_lists.rebuild(node)  # published bits re-derived from the credentials' states (SECURITY X2, X12)

    app = FastAPI(title=f"Passerelle node — {settings.display_name}", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=_lifespan)
    app.state.node = node
    app.state.templates = make_templates()
    app.state.metrics = Metrics()
    errors.install(app)
    limits.install(app, settings)  # inside the edge middleware: a 413 gets the security headers too
    _install_middleware(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _include_routers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, close what the node opened on first use: the outbound HTTP client and its worker threads."""
    yield
    node: NodeContext = app.state.node
    fetcher = node.__dict__.get("fetcher")
    if fetcher is not None:
        fetcher.close()
    node.engine.dispose()


def app_from_environment() -> FastAPI:
    """The factory uvicorn's worker processes import (``passerelle serve --workers N``): settings from
    ``$PASSERELLE_CONFIG`` and the ``PASSERELLE_*`` variables, as the parent process validated them."""
    from nodes.observability import configure_logging
    from nodes.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def _include_routers(app: FastAPI) -> None:
    from nodes.web import auth, home, member, ops, wellknown

    app.include_router(ops.router)
    app.include_router(wellknown.router)
    app.include_router(home.router)
    app.include_router(auth.router)
    app.include_router(member.router)
    from nodes.oidc import authorize_routes, logout_routes, platform_routes, token_routes
    from nodes.web import admin_clients

    app.include_router(token_routes.router)
    app.include_router(authorize_routes.router)
    app.include_router(logout_routes.router)
    app.include_router(platform_routes.router)
    app.include_router(admin_clients.router)
    from nodes.web import admin

    app.include_router(admin.router)
    from nodes.web import credentials_admin, credentials_member, vc_api, verify_page

    app.include_router(vc_api.router)
    app.include_router(credentials_admin.router)
    app.include_router(credentials_member.router)
    app.include_router(verify_page.router)


def _install_middleware(app: FastAPI) -> None:
    app.add_middleware(Edge)  # pure ASGI (nodes/web/edge.py): headers, cookie, metrics, masked errors
