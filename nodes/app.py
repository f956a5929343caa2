"""The app factory: ``create_app(settings)`` builds one node. No import-time engine or settings."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from nodes import keyring
from nodes.clock import Clock, utc_now
from nodes.context import NodeContext
from nodes.observability import Metrics
from nodes.settings import NodeSettings
from nodes.storage.db import make_engine, upgrade
from nodes.web import errors
from nodes.web.pages import make_templates
from nodes.web.sessions import apply_cookie

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: NodeSettings, clock: Clock = utc_now) -> FastAPI:
    """Build a node app: open the database (migrating it when ``run_migrations``), check its keys, mount routes."""
    engine = make_engine(settings.resolved_database_url)
    if settings.run_migrations:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(engine)
    node = NodeContext(settings=settings, engine=engine, secret=settings.node_secret(), clock=clock)
    keyring.current_signing_key(engine, node.secret, "jose")  # fail fast: 'passerelle init' not run

    app = FastAPI(title=f"Passerelle node — {settings.display_name}", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.node = node
    app.state.templates = make_templates()
    app.state.metrics = Metrics()
    errors.install(app)
    _install_middleware(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from nodes.web import home, ops, wellknown

    app.include_router(ops.router)
    app.include_router(wellknown.router)
    app.include_router(home.router)


def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _edge(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        apply_cookie(request, response)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics: Metrics = request.app.state.metrics
        metrics.requests.labels(request.method, route, f"{response.status_code // 100}xx").inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response
