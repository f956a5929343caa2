"""JSON logs, one request line per answer, and Prometheus metrics.

Logs are one JSON object per line on stderr, where a container runtime or journald collects them. Before a line is
written, every string in it (the message, the formatted traceback, any ``extra`` field) goes through
:func:`redact`, which replaces anything that looks like a bearer token, a password, a code, a session cookie or an
``Authorization`` header with ``[redacted]``; fields whose *name* says they are secret are dropped to
``[redacted]`` whatever their value (SECURITY W5). Redaction is the last line of defence: the code logs route
templates (``/claim/{token}``), never raw paths or query strings, and the database engine hides SQL parameters.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"(?i)(authorization|password|passwd|secret|token|cookie|csrf|api[_-]?key|^code$)")
_SECRET_PATTERNS = [
    # Authorization: Bearer xyz / 'authorization': 'Basic xyz' / authorization=xyz
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|dpop)\s+)?[^\s,;\"']+"),
    # A bare "Bearer xyz" anywhere, e.g. an exception quoting a header value.
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    # password=..., "client_secret": "...", access_token=..., code=..., csrf_token=...
    re.compile(
        r"(?i)((?:password|passwd|secret|token|\bcode|csrf_token|cookie|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s&,;\"']+"
    ),
    # The session cookie itself, with or without the __Host- prefix.
    re.compile(r"(?i)((?:__Host-)?passerelle(?:_\d+)?=)[^\s;,\"']+"),
]


#: Short strings already found to hold nothing to redact. A request line repeats most of its strings (its level,
#: logger, method, route and message), and four substitutions on each cost more than the rest of the line; a string
#: that needed redaction is never kept here. Bounded: emptied when full.
_CLEAN: set[str] = set()
_CLEAN_MAX, _CLEAN_LONGEST = 4096, 256


def redact(text: str) -> str:
    """Replace secret-looking values in ``text`` with ``[redacted]``."""
    if text in _CLEAN:
        return text
    original = text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    if text == original and len(text) <= _CLEAN_LONGEST:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN.add(text)
    return text


def redact_value(name: str, value: Any) -> Any:
    """Redact one log field: secret-named fields entirely, strings by pattern, containers recursively."""
    if _SECRET_NAME.search(name) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(name, v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Redacts the message of every record, for handlers that do not use :class:`RedactingJsonFormatter`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines whose every field, the traceback included, has been through :func:`redact_value`."""

    _ALWAYS = frozenset({"level", "name", "message", "exc_info", "stack_info"})
    _OWN = frozenset({"asctime"})  # the formatter's own timestamp: nothing of the record's content

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value if key in self._OWN
            else (redact(value) if isinstance(value, str) else value) if key in self._ALWAYS
            else redact_value(key, value)
            for key, value in log_data.items()
        }


def json_log_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing redacted JSON lines to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        RedactingJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
    )
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(level: int | str = logging.INFO) -> None:
    """Route the root logger to stderr as redacted JSON lines. Safe to call more than once."""
    root = logging.getLogger()
    root.handlers[:] = [json_log_handler()]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


request_log = logging.getLogger("passerelle.request")
# Probes and scrapes arrive every few seconds: their successes are logged at DEBUG so they do not drown the rest.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def record_request(metrics: Metrics, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and write its log line.

    ``route`` is the route template (``/claim/{token}``) or ``unmatched``: raw paths and query strings can carry
    claim tokens and authorization codes, and unmatched paths would give the metrics unbounded labels.
    """
    metrics.requests.labels(method, route, f"{status // 100}xx").inc()
    metrics.latency.labels(route).observe(seconds)
    level = logging.WARNING if status >= 500 else logging.INFO
    if route in QUIET_ROUTES and status < 400:
        level = logging.DEBUG
    request_log.log(
        level, "%s %s %s", method, route, status,
        extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 1)},
    )


class Metrics:
    """The node's Prometheus metrics, in a registry of its own (several nodes may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "passerelle_http_requests_total", "HTTP requests by route and status class.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "passerelle_http_request_seconds", "HTTP request latency.", ["route"], registry=self.registry
        )
        self.database_unavailable = Counter(
            "passerelle_database_unavailable_total",
            "Requests answered 503 because the database could not be reached or written.",
            registry=self.registry,
        )
        self.logins = Counter(
            "passerelle_logins_total", "Sign-in attempts by outcome.", ["outcome"], registry=self.registry
        )
        self.roster_rows = Counter(
            "passerelle_roster_rows_total", "Roster rows imported by outcome.", ["outcome"], registry=self.registry
        )
