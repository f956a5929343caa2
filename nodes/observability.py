"""JSON logs and Prometheus metrics.

Logs are one JSON object per line. A filter redacts anything that looks like a bearer token, a password, a code, a
session cookie or an ``Authorization`` header before it is written (SECURITY W5).
"""

from __future__ import annotations

import logging
import re
import sys

from prometheus_client import CollectorRegistry, Counter, Histogram
from pythonjsonlogger.json import JsonFormatter

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer|basic)?\s*[^\s,;\"']+"),
    re.compile(r"(?i)((?:password|passwd|secret|token|code|csrf_token|cookie)[\"']?\s*[:=]\s*[\"']?)[^\s&,;\"']+"),
    re.compile(r"(?i)(__Host-passerelle=|passerelle=)[^\s;]+"),
]


def redact(text: str) -> str:
    """Replace secret-looking values in ``text`` with ``[redacted]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Route the root logger to stderr as JSON lines, redacted. Safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


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
        self.logins = Counter(
            "passerelle_logins_total", "Sign-in attempts by outcome.", ["outcome"], registry=self.registry
        )
        self.roster_rows = Counter(
            "passerelle_roster_rows_total", "Roster rows imported by outcome.", ["outcome"], registry=self.registry
        )
