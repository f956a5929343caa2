"""The app factory: ``create_app(settings)`` builds one node. No import-time engine or settings."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig

from nodes import keyring
from nodes.clock import Clock, utc_now
from nodes.context import NodeContext
from nodes.observability import Metrics
from nodes.oidc.node_provider import build_provider
from nodes.settings import NodeSettings
from nodes.storage.db import make_engine, upgrade
from nodes.web import errors, limits
from nodes.web.edge import SECURITY_HEADERS, Edge
from nodes.web.pages import make_templates

__all__ = ["SECURITY_HEADERS", "create_app"]

STATIC = Path(__file__).parent / "static"
#: FastAPI's own OpenTelemetry (request spans and metrics, and logs of validation failures and unhandled exceptions
#: with their messages and stack traces) switches itself on once any OpenTelemetry provider is configured in the
#: process. A node reports through its own metrics and its redacted request log (nodes/observability.py); exception
#: messages exported around that redaction could carry a token or a secret (SECURITY W5). Off, which also spares
#: every request FastAPI's check for a configured provider.
NO_FRAMEWORK_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


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
                  openapi_url="/api/openapi.json", lifespan=_lifespan, telemetry=NO_FRAMEWORK_TELEMETRY)
    app.state.node = node
    app.state.oidc_provider = build_provider(node)
    app.state.templates = make_templates()
    app.state.metrics = Metrics()
    app.state.userinfo_reads = weakref.WeakKeyDictionary()  # by event loop (nodes.oidc.token_routes)
    app.state.refresh_reads = weakref.WeakKeyDictionary()  # by event loop: refresh grants on PostgreSQL
    errors.install(app)
    limits.install(app, settings)  # inside the edge middleware: a 413 gets the security headers too
    _install_middleware(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _include_routers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While serving, delete expired rows now and then (:mod:`nodes.housekeeping`). At shutdown, close what the node
    opened: the outbound HTTP client and its worker threads (opened on first use), the direct-read pool (likewise)
    and the database pool."""
    from nodes.housekeeping import run_periodically

    node: NodeContext = app.state.node
    housekeeping = asyncio.get_running_loop().create_task(
        run_periodically(node, node.settings.housekeeping_interval_seconds))
    yield
    housekeeping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await housekeeping
    fetcher = node.__dict__.get("fetcher")
    if fetcher is not None:
        fetcher.close()
    direct_reads = node.__dict__.get("direct_reads")
    if direct_reads is not None:
        direct_reads.dispose()
    node.engine.dispose()


def app_from_environment() -> FastAPI:
    """The factory uvicorn's worker processes import (``passerelle serve --workers N``): settings from
    ``$PASSERELLE_CONFIG`` and the ``PASSERELLE_*`` variables, as the parent process validated them."""
    from nodes.gc_tuning import settle_after_startup
    from nodes.observability import configure_logging
    from nodes.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_after_startup()
    return app


def _include_routers(app: FastAPI) -> None:
    from nodes.oidc import authorize_routes, logout_routes, platform_routes, token_routes
    from nodes.web import (
        admin,
        admin_clients,
        auth,
        credentials_admin,
        credentials_member,
        home,
        member,
        ops,
        vc_api,
        verify_page,
        wellknown,
    )

    # Hot routes first: the OpenID Connect endpoints as plain Starlette routes (see token_routes), then FastAPI tries
    # the included routers in order, and each one it passes costs a few µs.
    app.router.routes[:0] = token_routes.HOT_ROUTES  # before the API documentation's own routes too
    for router in (ops.router, token_routes.router, vc_api.router, wellknown.router, home.router, auth.router,
                   member.router, authorize_routes.router, logout_routes.router, platform_routes.router,
                   admin_clients.router, admin.router, credentials_admin.router, credentials_member.router,
                   verify_page.router):
        app.include_router(router)


def _install_middleware(app: FastAPI) -> None:
    app.add_middleware(Edge)  # pure ASGI (nodes/web/edge.py): headers, cookie, metrics, masked errors
