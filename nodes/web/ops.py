"""Operations endpoints: liveness (``/healthz``), readiness (``/readyz``, checks the database) and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from nodes.observability import Metrics
from nodes.web.sessions import node_of

router = APIRouter()
log = logging.getLogger("passerelle.ops")


@router.get("/healthz")
def healthz() -> JSONResponse:
    """Liveness: the process answers. It never touches the database, so a database outage does not restart us."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers a query. 503 while it does not, so a balancer stops sending traffic."""
    try:
        with node_of(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "error": "temporarily_unavailable"},
            status_code=503, headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )
    return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics
    assert isinstance(registry, Metrics)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
