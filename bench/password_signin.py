"""Password sign-ins per second on one node: one uvicorn worker on a loopback port, one seeded member.

Passwords are hashed with argon2id at the OWASP Password Storage Cheat Sheet minimum (the parameters are read from
``nodes/members.py``: m = 7 MiB, t = 5, p = 1), and a sign-in costs one argon2 verification whatever the outcome,
so this is the figure that sizes a node for a login rush (a class reunion mail, the start of term).

Two measurements:

* ``verify_password`` alone, in this process: the ceiling the hash sets, per core.
* real sign-ins over HTTP, when the node has a sign-in page: each new visitor opens ``GET /signin`` (a session
  and its CSRF token), then posts ``POST /signin`` with the token, the e-mail and the password, answered by a 303
  to the member page with a fresh session. It prints sign-ins per second (page and post) and the latency of each
  request. Several concurrent visitors show what one worker gets out of the thread pool that runs the synchronous
  route (argon2 releases the GIL). Without ``/signin`` only the first measurement is printed.

The clients run on the same machine as the node and take CPU from it: on a small machine the figures with many
concurrent visitors are a lower bound.

    .venv/bin/python bench/password_signin.py [--seconds 10] [--concurrency 1,4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_support import init_node, postgres_database  # noqa: E402
from oidc_flows import argon2_parameters, start_node  # noqa: E402

from nodes import members  # noqa: E402
from nodes.storage.db import transaction  # noqa: E402
from nodes.storage.models import Member  # noqa: E402

EMAIL = "bench.member@bench.example.org"
PASSWORD = "correct horse battery staple, benchmarked"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_node(folder: Path, port: int, database_url: str) -> Path:
    """Write a config, initialise the node (secret, schema, keys) and seed one claimed member; returns the config."""
    config, node = init_node(folder, port, database_url)
    engine = node.engine
    now = datetime.now(UTC)
    with transaction(engine) as db:
        db.add(Member(
            public_id=secrets.token_hex(8), email=EMAIL, email_key=members.email_key(EMAIL), given_name="Bench",
            family_name="Member", password_hash=members.hash_password(PASSWORD), created_at=now, updated_at=now,
            claimed_at=now,
        ))
    engine.dispose()
    return config


def bench_verify(seconds: float) -> None:
    stored = members.hash_password(PASSWORD)
    count, latencies = 0, []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        assert members.verify_password(stored, PASSWORD)
        latencies.append(time.perf_counter() - started)
        count += 1
    print(f"  verify_password alone, 1 thread: {count / sum(latencies):6.1f} /s")
    print(f"      verify        {summary(latencies)}")


def has_signin_page(base: str) -> bool:
    answer = httpx.get(base + "/signin", headers={"Accept": "text/html"}, timeout=10)
    return answer.status_code == 200 and CSRF.search(answer.text) is not None


def one_signin(client: httpx.Client) -> tuple[float, float]:
    """One new visitor signs in: returns the seconds of ``GET /signin`` and of ``POST /signin``."""
    client.cookies.clear()  # a new visitor each time: no session yet
    started = time.perf_counter()
    page = client.get("/signin")
    opened = time.perf_counter()
    found = CSRF.search(page.text)
    assert found, "the sign-in page has no CSRF token"
    form = {"csrf_token": found.group(1), "email": EMAIL, "password": PASSWORD}
    answer = client.post("/signin", data=form)
    posted = time.perf_counter()
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {answer.status_code}")
    return opened - started, posted - opened


def visitor(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60, headers={"Accept": "text/html"})


def bench_http(base: str, seconds: float, concurrency: int) -> None:
    pages: list[float] = []
    posts: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        with visitor(base) as client:
            while time.perf_counter() < deadline:
                page, post = one_signin(client)
                with lock:
                    pages.append(page)
                    posts.append(post)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    print(f"  {concurrency:2} concurrent visitors: {len(posts) / wall:6.1f} sign-ins/s (page + form post)")
    print(f"      GET /signin   {summary(pages)}")
    print(f"      POST /signin  {summary(posts)}")


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   n={len(ordered)}"


def run(label: str, database_url: str, seconds: float, concurrency: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = prepare_node(Path(folder), port, database_url)
        process = start_node(config, port, cpu=None)
        try:
            base = f"http://localhost:{port}"
            print(f"{label}: one uvicorn worker on {base}")
            if not has_signin_page(base):
                print("  (no /signin page on this node yet: only verify_password is measured)")
                return
            with visitor(base) as client:
                one_signin(client)  # warm-up: imports, templates, connection pool
            for level in concurrency:
                bench_http(base, seconds, level)
        finally:
            process.terminate()
            process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--postgres", default=os.environ.get("PASSERELLE_TEST_POSTGRES_URL"),
                        help="also run on a fresh database of this PostgreSQL server")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    print(f"password hashing: {argon2_parameters()}; {os.cpu_count()} CPUs")
    bench_verify(args.seconds)
    run("SQLite", "", args.seconds, levels)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            run("PostgreSQL", url, args.seconds, levels)


if __name__ == "__main__":
    main()
