"""Operating a node over real HTTP: liveness, readiness, metrics, JSON logs, and what errors show (SECURITY W5).

Error answers are JSON ``{error, error_description}`` (problem+json) or, for browsers, a readable page; neither
carries a trace, SQL, a file path or a secret. Logs are JSON lines in which authorization headers, passwords,
tokens, codes and session cookies are redacted, even when an exception quotes them.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from nodes.observability import json_log_handler
from tests.e2e import faults
from tests.e2e.faults import HTML, JSON, app_engine, write_attempt
from tests.e2e.raw_http import exchange

SECRETS = {
    "bearer": "bearer-secret-4f1c9e0b",
    "cookie": "cookie-secret-77aa01d3",
    "password": "password-secret-93be2c5a",
    "code": "code-secret-5d0e11f7",
    "token": "token-secret-a8c3f4e2",
    "sql": "sql-parameter-secret-c0ffee42",
}
LEAKS = ("Traceback", 'File "', "site-packages", "sqlalchemy", "SELECT ", "INSERT ", "[SQL", "psycopg", "sqlite3")


def secret_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS['bearer']}", "Cookie": f"passerelle={SECRETS['cookie']}"}


def secret_query() -> dict[str, str]:
    return {"code": SECRETS["code"], "access_token": SECRETS["token"]}


def assert_no_leak(body: str, *also: str) -> None:
    for marker in (*LEAKS, *SECRETS.values(), *also):
        assert marker not in body, f"{marker!r} leaked into {body[:400]!r}"


def add_failing_routes(live) -> None:
    """Two routes that fail the way real code can: an exception quoting secrets, and a bad query with a secret
    parameter. They are added to the running node's own app; everything around them is the node's."""
    app = live.server.config.app

    def boom() -> None:
        raise RuntimeError(
            f"upstream refused Authorization: Bearer {SECRETS['bearer']} with password={SECRETS['password']} "
            f"and passerelle={SECRETS['cookie']}"
        )

    def bad_query() -> None:
        with app_engine(live).connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table WHERE token_hash = :p"), {"p": SECRETS["sql"]})

    app.add_api_route("/test-only/boom", boom)
    app.add_api_route("/test-only/bad-query", bad_query)


# --- liveness, readiness ------------------------------------------------------------------------------------------


def test_healthz_answers_200_and_is_never_cached(live_node):
    with live_node().client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"


def test_readyz_answers_200_when_the_database_accepts_writes_and_leaves_no_trace(live_node):
    live = live_node()
    with live.node.engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM web_session")).scalar_one()
    with live.client() as client:
        answers = [client.get("/readyz") for _ in range(3)]
    assert all(a.status_code == 200 and a.json() == {"status": "ready", "checks": {"database": "ok"}} for a in answers)
    assert answers[0].headers["cache-control"] == "no-store"
    with live.node.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM web_session")).scalar_one() == before


def test_readyz_fails_while_healthz_passes_when_the_database_is_unavailable(live_node, postgres):
    live = live_node(database_timeout_seconds=0.5)
    with faults.database_outage(live.node.engine, postgres), live.client() as client:
        ready = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
    body = ready.json()
    assert body["error"] == "temporarily_unavailable" and body["error_description"]
    assert body["checks"] == {"database": "unavailable"}
    assert_no_leak(ready.text)
    deadline = time.monotonic() + 15
    with live.client() as client:
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readiness did not come back by itself"
            time.sleep(0.2)


# --- metrics ------------------------------------------------------------------------------------------------------


def metric_samples(live) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with live.client() as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_expose_prometheus_text_with_request_counters(live_node):
    live = live_node()
    healthz = ("passerelle_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "2xx")))
    unmatched = ("passerelle_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "4xx")))
    before = metric_samples(live)
    with live.client(headers=JSON) as client:
        for _ in range(3):
            client.get("/healthz")
        client.get("/no-such-page")
        client.get(f"/claim/{SECRETS['token']}")
    samples = metric_samples(live)
    assert samples[healthz] - before.get(healthz, 0) == 3
    assert samples[unmatched] - before.get(unmatched, 0) == 1
    routes = {dict(labels).get("route") for (_, labels) in samples}
    assert "/claim/{token}" in routes, "routes are labelled by template"
    assert not any(SECRETS["token"] in str(key) for key in samples), "never by the raw path"
    assert ("passerelle_http_request_seconds_count", (("route", "/healthz"),)) in samples
    assert ("passerelle_database_unavailable_total", ()) in samples


def test_metrics_count_requests_refused_for_an_unavailable_database(live_node, postgres):
    live = live_node(database_timeout_seconds=0.5)
    with faults.database_outage(live.node.engine, postgres):
        assert write_attempt(live).status_code == 503
    samples = metric_samples(live)
    assert samples[("passerelle_database_unavailable_total", ())] == 1
    refused = ("passerelle_http_requests_total", (("method", "GET"), ("route", "/lang/{lang}"), ("status", "5xx")))
    assert samples[refused] == 1


# --- W5: error answers --------------------------------------------------------------------------------------------


def error_answers(live, headers: dict[str, str]) -> dict[str, httpx.Response]:
    """One answer of each error kind a visitor can cause, each request carrying secrets where a client might."""
    add_failing_routes(live)
    sent = {**secret_headers(), **headers}
    with live.client(headers=sent) as client:
        answers = {
            "404": client.get("/no-such-page", params=secret_query()),
            "405": client.post("/healthz"),
            "403-csrf": client.post("/signin", data={"email": "a@b.example", "password": SECRETS["password"]}),
            "401-api": client.get("/me", params=secret_query()) if "json" in headers["Accept"] else None,
            "500": client.get("/test-only/boom", params=secret_query()),
            "500-sql": client.get("/test-only/bad-query"),
        }
    return {name: answer for name, answer in answers.items() if answer is not None}


def test_w5_every_error_answer_is_json_with_error_and_description_and_no_leak(live_node, postgres):
    live = live_node(database_timeout_seconds=0.5, request_max_bytes=4096)
    answers = error_answers(live, JSON)
    with faults.database_outage(live.node.engine, postgres):
        answers["503"] = write_attempt(live, {**JSON, **secret_headers()})
    port = int(live.url.rsplit(":", 1)[1])
    too_large = exchange(port, "POST /signin HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                               "Content-Length: 10000000")
    expected = {"404": 404, "405": 405, "403-csrf": 403, "401-api": 401, "500": 500, "500-sql": 500, "503": 503}
    assert {name: a.status_code for name, a in answers.items()} == expected
    for name, answer in answers.items():
        assert answer.headers["content-type"].startswith("application/problem+json"), name
        body = answer.json()
        assert isinstance(body["error"], str) and isinstance(body["error_description"], str), name
        assert_no_leak(answer.text, str(live.node.settings.data_dir), "no_such_table")
        assert answer.headers["x-frame-options"] == "DENY", name
    assert answers["500"].json()["error"] == answers["500-sql"].json()["error"] == "server_error"
    assert too_large.status == 413 and too_large.json()["error"] == "too_large"
    assert_no_leak(too_large.body.decode())


def test_w5_browsers_get_a_readable_page_without_traces(live_node, postgres):
    live = live_node(database_timeout_seconds=0.5)
    answers = error_answers(live, HTML)
    with faults.database_outage(live.node.engine, postgres):
        answers["503"] = write_attempt(live, {**HTML, **secret_headers()})
    for name, answer in answers.items():
        if answer.status_code == 405:
            continue  # a method a browser never sends from our pages
        assert answer.headers["content-type"].startswith("text/html"), name
        assert "<html" in answer.text and "Something went wrong" in answer.text, name
        assert_no_leak(answer.text, str(live.node.settings.data_dir), "no_such_table")
    assert "An unexpected error occurred. It has been logged." in answers["500"].text


# --- W5: logs -----------------------------------------------------------------------------------------------------


@pytest.fixture
def captured_logs():
    """The node's JSON log lines, as ``passerelle serve`` writes them, captured from the root logger."""
    stream = io.StringIO()
    handler = json_log_handler(stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_w5_failing_requests_are_logged_as_redacted_json_lines(live_node, captured_logs):
    live = live_node()
    answers = error_answers(live, JSON)
    assert answers["500"].status_code == answers["500-sql"].status_code == 500
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines() if line.strip()]
    ours = [line for line in lines if line["name"].startswith("passerelle")]
    unexpected = [line for line in ours if line["message"].startswith("unexpected error on GET /test-only/")]
    assert len(unexpected) == 2 and all(line["level"] == "ERROR" for line in unexpected)
    boom = next(line for line in unexpected if "boom" in line["message"])
    assert "RuntimeError" in boom["exc_info"] and "[redacted]" in boom["exc_info"], "the detail is logged, redacted"
    sql = next(line for line in unexpected if "bad-query" in line["message"])
    assert "SQL parameters hidden" in sql["exc_info"]
    requests = {(line["route"], line["status"]) for line in ours if line["name"] == "passerelle.request"}
    assert {("unmatched", 404), ("/signin", 403), ("/test-only/boom", 500)} <= requests
    raw = captured_logs.getvalue()
    for secret in SECRETS.values():
        assert secret not in raw, f"{secret} reached the logs"


def test_w5_logs_of_passerelle_serve_are_json_lines_without_secrets(make_node, postgres, tmp_path):
    """The real process: ``passerelle serve`` writes only JSON lines on stderr, and no secret among them."""
    node = make_node(database_timeout_seconds=0.5)
    port = int(node.settings.base_url.rsplit(":", 1)[1])
    stderr = (tmp_path / "stderr.log").open("w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from nodes.cli import main; main()", "--config", str(node.config_file), "serve"],
        stdout=subprocess.DEVNULL, stderr=stderr, env=env,
    )
    try:
        url = node.settings.base_url
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "passerelle serve did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=url, headers={**JSON, **secret_headers()}, timeout=10) as client:
            assert client.get("/no-such-page", params=secret_query()).status_code == 404
            assert client.post("/signin", data={"password": SECRETS["password"]}).status_code == 403
            assert client.get(f"/claim/{SECRETS['token']}", params=secret_query()).status_code in (400, 404, 410)
            with faults.database_outage(node.engine, postgres):
                assert client.get("/lang/en", params=secret_query()).status_code == 503
        too_large = exchange(port, "POST /signin HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                                   f"Authorization: Bearer {SECRETS['bearer']}\r\nContent-Length: 99999999")
        assert too_large.status == 413
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    stderr.seek(0)
    output = stderr.read()
    lines = [line for line in output.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"asctime", "level", "name", "message"} <= set(line) for line in parsed)
    requests = {(line["route"], line["status"]) for line in parsed if line["name"] == "passerelle.request"}
    assert {("unmatched", 404), ("/signin", 403), ("/claim/{token}", 400), ("/lang/{lang}", 503),
            ("unmatched", 413)} <= requests
    assert any(line["message"].startswith("database unavailable") for line in parsed)
    for secret in SECRETS.values():
        assert secret not in output, f"{secret} reached the logs"
