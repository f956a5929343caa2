"""Log redaction (SECURITY W5) and the classification of database errors into 503 or 500."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from nodes.observability import json_log_handler, redact
from nodes.storage.db import make_engine
from nodes.web.errors import database_unavailable


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig", "eyJhbGciOiJFUzI1NiJ9"),
        ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("{'authorization': 'Bearer abc.def.ghi', 'accept': 'text/html'}", "abc.def.ghi"),
        ('{"Authorization": "DPoP tok-123"}', "tok-123"),
        ("upstream said: bearer tok_live_9876", "tok_live_9876"),
        ("password=hunter2-long&next=/me", "hunter2-long"),
        ("{'password': 'hunter2 spaced'}", "hunter2"),
        ('"client_secret": "s3cr3t-value"', "s3cr3t-value"),
        ("GET /cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "SplxlOBeZQQYbYS6WxSbIA"),
        ("refresh_token=8xLOxBtZp8&grant_type=refresh_token", "8xLOxBtZp8"),
        ("csrf_token=Zm9vYmFy", "Zm9vYmFy"),
        ("Cookie: passerelle=abc123; lang=fr", "abc123"),
        ("Cookie: passerelle_8401=zz9yy8; lang=fr", "zz9yy8"),
        ("set __Host-passerelle=q1w2e3r4; Path=/", "q1w2e3r4"),
    ],
)
def test_w5_redact_removes_the_secret_and_keeps_the_label(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "[redacted]" in cleaned


def test_redact_leaves_ordinary_text_alone():
    for line in ("GET /lang/{lang} 503", "status_code=500 route=/claim/{token}", "readiness check failed: BUSY"):
        assert redact(line) == line


def log_lines(emit) -> list[dict]:
    stream = io.StringIO()
    logger = logging.getLogger("passerelle.test-redaction")
    handler = json_log_handler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_w5_extra_fields_named_like_secrets_are_redacted_whatever_their_value():
    [line] = log_lines(lambda log: log.warning(
        "callback", extra={"authorization": "opaque", "session_cookie": "c", "headers": {"x-api-key": "k"},
                           "user_agent": "password=abc"}
    ))
    assert line["authorization"] == "[redacted]" and line["session_cookie"] == "[redacted]"
    assert line["headers"] == {"x-api-key": "[redacted]"}
    assert line["user_agent"] == "password=[redacted]"


def test_w5_tracebacks_are_redacted_in_json_lines():
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("token=abc123def refused")
        except ValueError:
            log.exception("while calling the peer with %s", "Authorization: Bearer zz-top")

    [line] = log_lines(emit)
    assert line["level"] == "ERROR" and line["name"] == "passerelle.test-redaction"
    assert "zz-top" not in line["message"] and "abc123def" not in line["exc_info"]
    assert "ValueError: token=[redacted] refused" in line["exc_info"]


def raised(engine, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        for part in statement.split(";"):
            connection.execute(text(part))
    return caught.value


def test_database_errors_that_are_the_query_s_fault_are_not_called_unavailable(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    missing_table = raised(engine, "SELECT * FROM nowhere")
    duplicate = raised(engine, "CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)")
    assert not database_unavailable(missing_table), "a bug answers 500, not 'try again later'"
    assert not database_unavailable(duplicate)
    engine.dispose()


def test_locked_read_only_and_full_sqlite_databases_are_unavailable(tmp_path):
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}", timeout=0.1)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    locked = raised(engine, "INSERT INTO t VALUES (1)")
    holder.execute("ROLLBACK")
    holder.close()
    read_only = raised(engine, "PRAGMA query_only = ON; INSERT INTO t VALUES (1)")
    with engine.begin() as connection:
        connection.execute(text("PRAGMA query_only = OFF"))
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
    full = raised(engine, f"PRAGMA max_page_count = {pages}; INSERT INTO t SELECT randomblob(100000)")
    names = [e.orig.sqlite_errorname for e in (locked, read_only, full)]  # type: ignore[union-attr]
    assert names == ["SQLITE_BUSY", "SQLITE_READONLY", "SQLITE_FULL"]
    assert [database_unavailable(e) for e in (locked, read_only, full)] == [True, True, True]
    engine.dispose()


def test_sql_parameters_never_appear_in_database_error_messages(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM nowhere WHERE token = :p"), {"p": "secret-parameter-value"})
    assert "secret-parameter-value" not in str(caught.value)
    assert "SQL parameters hidden" in str(caught.value)
    engine.dispose()


def test_probe_successes_stay_out_of_info_logs_but_their_failures_do_not():
    from nodes.observability import Metrics, record_request, request_log

    stream = io.StringIO()
    handler = json_log_handler(stream)
    request_log.addHandler(handler)
    previous = request_log.level
    request_log.setLevel(logging.INFO)
    try:
        metrics = Metrics()
        record_request(metrics, "GET", "/healthz", 200, 0.001)
        record_request(metrics, "GET", "/readyz", 503, 0.5)
        record_request(metrics, "POST", "/signin", 303, 0.04)
    finally:
        request_log.removeHandler(handler)
        request_log.setLevel(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["route"], line["status"], line["level"]) for line in lines] == [
        ("/readyz", 503, "WARNING"), ("/signin", 303, "INFO")
    ]
    labels = {"method": "GET", "route": "/healthz", "status": "2xx"}
    assert metrics.registry.get_sample_value("passerelle_http_requests_total", labels) == 1, "still counted"


def test_w5_a_string_seen_clean_stays_unchanged_and_a_secret_is_redacted_every_time():
    """Clean strings are remembered (a request line repeats them); a secret never is."""
    assert redact("POST /token 200") == "POST /token 200"
    assert redact("POST /token 200") == "POST /token 200"
    for _ in range(3):
        assert redact("refresh_token=abc123") == "refresh_token=[redacted]"


_TRACER_REQUESTS = """
import json, sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace

asked = []


class Recording(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        asked.append(args[0] if args else "")
        return trace.NoOpTracer()


trace.set_tracer_provider(Recording())
from nodes.app import create_app
from nodes.settings import load_settings

with TestClient(create_app(load_settings(sys.argv[1]))) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/no-such-page").status_code == 404
node = len(asked)
plain = FastAPI()
plain.get("/x")(lambda: {})
with TestClient(plain) as client:
    client.get("/x")
print(json.dumps({"node": node, "plain": len(asked) - node}))
"""


def test_w5_fastapi_native_telemetry_stays_off_when_a_provider_is_configured(make_node):
    """FastAPI exports exception messages and stack traces, unredacted, once any OpenTelemetry provider is set in
    the process: a node never asks for a tracer, where a plain FastAPI app does (the control). In a subprocess, as
    the global provider can be set only once."""
    node = make_node()
    done = subprocess.run([sys.executable, "-c", _TRACER_REQUESTS, str(node.config_file)], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    asked = json.loads(done.stdout.strip().splitlines()[-1])
    assert asked["plain"] >= 1
    assert asked["node"] == 0
