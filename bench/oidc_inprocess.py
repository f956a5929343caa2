"""The provider core without HTTP: what one UserInfo answer and one refresh grant cost when called directly.

Beside the HTTP figures, this splits a request's cost in two: the core (authlib, the store's queries, the ID token
signature) measured here, sequentially in one thread of this process on the node's own database, and the rest
(uvicorn, h11, FastAPI, the middleware, the thread-pool hand-off) which is the difference. Also timed alone: one
ES256 signature and one argon2id check, the two cryptographic costs of a flow.
"""

from __future__ import annotations

import base64
import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from federation.oidc.http import HttpRequest
from federation.oidc.models import secret_hash
from nodes import keyring, members
from nodes.context import NodeContext
from nodes.oidc.node_provider import build_provider, one_session
from nodes.settings import load_settings
from nodes.storage.db import make_engine


def _print_profile(what: str, action: Callable[[], object], rounds: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        action()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(nodes|federation|credentials|authlib|sqlalchemy|sqlmodel)/", 22)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print(f"  cProfile of the {what}, {rounds} calls (cumulative seconds):")
    for line in lines[start:]:
        print("    " + line[:150])


def _per_call(action: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and p99 seconds of ``action`` over ``rounds`` calls (after one warm-up call)."""
    action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def core_costs(client: Any, tokens: list[dict[str, Any]], rounds: int = 300,
               profile: bool = False) -> list[tuple[str, float, float]]:
    """``[(what, median s, p99 s)]`` for the core's UserInfo and refresh grant, one signature, one argon2 check.

    With ``profile``, each core call is first run ``rounds`` times under cProfile (deterministic, one thread) and
    the functions with the most cumulative time are printed.
    """
    settings = load_settings(client.config)
    engine = make_engine(settings.resolved_database_url)
    node = NodeContext(settings=settings, engine=engine, secret=settings.node_secret())
    provider = build_provider(node)
    issuer = settings.base_url
    access = tokens[0]["access_token"]
    chain = [tokens[1]["refresh_token"]]
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()

    def userinfo() -> None:
        with one_session(provider):  # as the route does: one direct connection for the request
            answer = provider.userinfo(HttpRequest("GET", f"{issuer}/userinfo", {"authorization": f"Bearer {access}"}))
        assert answer.status == 200, answer.body

    def refresh() -> None:
        form = [("grant_type", "refresh_token"), ("refresh_token", chain[-1])]
        headers = {"authorization": f"Basic {basic}", "content-type": "application/x-www-form-urlencoded"}
        with one_session(provider, secret_hash(chain[-1])):  # as the route does: the token read with its client
            answer = provider.token(HttpRequest("POST", f"{issuer}/token", headers, (), form))
        assert answer.status == 200, answer.body
        chain.append(answer.body["refresh_token"])

    if profile:
        _print_profile("UserInfo core", userinfo, rounds)
        _print_profile("refresh grant core", refresh, rounds)
    key = keyring.current_signing_key(engine, node.secret, "jose")
    stored = members.hash_password("a password of a benchmarked member")
    try:
        return [
            ("UserInfo, provider core only", *_per_call(userinfo, rounds)),
            ("refresh grant, provider core only", *_per_call(refresh, rounds)),
            ("one ES256 signature (the ID token)", *_per_call(lambda: key.sign(b"x" * 400), rounds)),
            ("one argon2id check (the sign-in)", *_per_call(
                lambda: members.verify_password(stored, "a password of a benchmarked member"), 20)),
        ]
    finally:
        engine.dispose()
