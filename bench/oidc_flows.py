"""The node under benchmark (initialised, members seeded, one platform registered) and complete code flows against it.

A flow is what a member's browser and the platform's back end do together, over real HTTP: the authorization
request, the sign-in page and form (one argon2id check), the consent page and form (or none when the consent is
remembered), then the token request with the PKCE verifier and ``client_secret_basic``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from bench_support import init_node

from nodes import members
from nodes.oidc.clients import ClientRegistration, register_client
from nodes.storage.db import transaction
from nodes.storage.models import Member

PASSWORD = "correct horse battery staple, benchmarked"
REDIRECT = "https://platform.bench.example/callback"
SCOPE = "openid profile affiliations offline_access"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')
CLAIM = re.compile(r'name="claims" value="([^"]+)"')
CONTINUE = re.compile(r'<a href="([^"]+)" id="continue">')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def argon2_parameters() -> str:
    mib = members.ARGON2_MEMORY_KIB / 1024
    return f"argon2id m={mib:g} MiB t={members.ARGON2_TIME_COST} p={members.ARGON2_PARALLELISM}"


@dataclass
class BenchClient:
    config: Path
    client_id: str
    secret: str
    emails: list[str]


def prepare_node(folder: Path, port: int, database_url: str, count: int) -> BenchClient:
    """Write a config, initialise the node, seed ``count`` claimed members and register one confidential client."""
    config, node = init_node(folder, port, database_url)
    engine = node.engine
    hashed, now = members.hash_password(PASSWORD), datetime.now(UTC)
    emails = [f"member{i}@bench.example.org" for i in range(count)]
    with transaction(engine) as db:
        for email in emails:
            db.add(Member(public_id=secrets.token_hex(8), email=email, email_key=members.email_key(email),
                          given_name="Bench", family_name="Member", password_hash=hashed, created_at=now,
                          updated_at=now, claimed_at=now))
    row, secret = register_client(node, ClientRegistration(name="Bench Platform", redirect_uris=[REDIRECT]),
                                  actor="bench")
    engine.dispose()
    assert secret is not None
    return BenchClient(config, row.client_id, secret, emails)


def start_node(config: Path, port: int, cpu: int | None) -> subprocess.Popen[bytes]:
    """``passerelle serve`` (uvicorn, one worker) on the loopback port, pinned to ``cpu`` when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    process = subprocess.Popen(
        [sys.executable, "-c", "from nodes.cli import main; main()", "--config", str(config), "serve",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, preexec_fn=pin,  # noqa: PLW1509
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://localhost:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the node did not start")


@dataclass
class FlowResult:
    seconds: float
    flows: int = 0
    timings: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.flows / self.seconds

    def steps(self) -> list[tuple[str, str]]:
        out = []
        for step, values in self.timings.items():
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            out.append((step, f"median {statistics.median(ordered) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms"))
        return out


class FlowRunner:
    """Complete code flows by threads of httpx clients, one member per thread."""

    def __init__(self, base: str, client: BenchClient) -> None:
        self.base, self.client = base, client
        self.issued: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._http() as http:
            for email in self.client.emails:
                self.flow(http, email, consent_page=True, timings={})

    def measure(self, threads: int, seconds: float, consent_page: bool) -> FlowResult:
        result = FlowResult(seconds)
        deadline = time.perf_counter() + seconds

        def worker(email: str) -> None:
            timings: dict[str, list[float]] = {}
            done = 0
            with self._http() as http:
                while time.perf_counter() < deadline:
                    self.flow(http, email, consent_page, timings)
                    done += 1
            with self._lock:
                result.flows += done
                for step, values in timings.items():
                    result.timings.setdefault(step, []).extend(values)

        started = time.perf_counter()
        workers = [threading.Thread(target=worker, args=(self.client.emails[i % len(self.client.emails)],))
                   for i in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        result.seconds = time.perf_counter() - started
        return result

    def tokens(self, count: int) -> list[dict[str, Any]]:
        """``count`` token responses with a refresh token each (more flows are run if needed)."""
        with self._http() as http:
            while len(self.issued) < count:
                self.flow(http, self.client.emails[len(self.issued) % len(self.client.emails)], False, {})
        return self.issued[-count:]

    def new_tokens(self, count: int) -> list[dict[str, Any]]:
        """``count`` token responses from flows run now (nothing else has used them)."""
        with self._http() as http:
            for index in range(count):
                self.flow(http, self.client.emails[index % len(self.client.emails)], False, {})
        return self.issued[-count:]

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, headers={"Accept": "text/html"})

    def flow(self, http: httpx.Client, email: str, consent_page: bool, timings: dict[str, list[float]]) -> None:
        """One complete flow by a new visitor; appends each step's seconds to ``timings``."""
        http.cookies.clear()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": self.client.client_id, "redirect_uri": REDIRECT,
                  "scope": SCOPE, "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        if consent_page:
            params["prompt"] = "consent"
        answer = _timed(timings, "GET /authorize", lambda: http.get("/authorize", params=params), 303)
        page = _timed(timings, "GET /signin", lambda: http.get(answer.headers["location"]), 200)
        form = {"csrf_token": _find(CSRF, page), "email": email, "password": PASSWORD,
                "next": page.url.params["next"]}
        signed = _timed(timings, "POST /signin", lambda: http.post("/signin", data=form), 303)
        answer = _timed(timings, "GET /authorize/resume", lambda: http.get(signed.headers["location"]), None)
        location = CONTINUE.search(answer.text) if answer.status_code == 200 else None
        if location is not None:  # the page that continues to the platform (after a form, instead of a 302)
            target = html.unescape(location.group(1))
        elif answer.status_code == 200:
            consent = {"csrf_token": _find(CSRF, answer), "interaction": _find(INTERACTION, answer),
                       "decision": "allow", "claims": CLAIM.findall(answer.text)}
            answer = _timed(timings, "POST /authorize/consent",
                            lambda: http.post("/authorize/consent", data=consent), 302)
            target = answer.headers["location"]
        elif answer.status_code == 302:
            target = answer.headers["location"]
        else:
            raise SystemExit(f"the authorization did not end in a redirect: HTTP {answer.status_code}")
        code = parse_qs(urlsplit(target).query)["code"][0]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
        tokens = _timed(timings, "POST /token", lambda: http.post(
            "/token", data=data, auth=(self.client.client_id, self.client.secret)), 200)
        with self._lock:
            self.issued.append(tokens.json())


def _timed(timings: dict[str, list[float]], step: str, call: Any, expect: int | None) -> httpx.Response:
    started = time.perf_counter()
    response: httpx.Response = call()
    timings.setdefault(step, []).append(time.perf_counter() - started)
    if expect is not None and response.status_code != expect:
        raise SystemExit(f"{step}: HTTP {response.status_code} instead of {expect}: {response.text[:300]}")
    return response


def _find(pattern: re.Pattern[str], page: httpx.Response) -> str:
    found = pattern.search(page.text)
    if not found:
        raise SystemExit(f"{page.request.url.path}: the expected form field is missing")
    return found.group(1)
