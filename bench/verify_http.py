"""``POST /credentials/verify`` throughput of a verifier node for a cached issuer (issue 3: over 1,000 requests/s
on 2 cores). On SQLite, and on PostgreSQL with ``--postgres``.

Two nodes run as ``passerelle serve`` on loopback ports, in development mode (``http://localhost`` did:web):
an issuer (one worker) that issues a few ``AlumniCredential`` through its own VC-API, and a verifier
(``--workers``, two by default: one per core) that lists the issuer in ``trusted_issuers``. Each verifier worker
is warmed (did:web document and status lists fetched from the issuer and cached), then ``http_load.py`` keeps
``--clients`` keep-alive connections posting the credentials in turn for ``--seconds``. Every answer must be
200 with ``verified: true`` (the full verification: structure, contexts, proof, issuer key, validity, revocation
and suspension status, trust); anything else is counted as an unexpected answer.

The load generator runs in this process on the same 2 cores, so the figure is a lower bound of what the verifier
alone would serve. ``--profile DIR`` samples the verifier's workers with py-spy during the run.

    .venv/bin/python bench/verify_http.py [--seconds 10] [--clients 64] [--workers 2] [--postgres URL] [--profile DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_support import init_node, postgres_database  # noqa: E402
from http_load import closed_loop, request_bytes  # noqa: E402
from oidc_flows import free_port  # noqa: E402

from nodes.admins import make_admin  # noqa: E402
from nodes.api_tokens import create_token  # noqa: E402
from nodes.context import NodeContext  # noqa: E402
from nodes.settings import load_settings  # noqa: E402
from nodes.storage.db import make_engine  # noqa: E402

TARGET = 1000
V2 = "https://www.w3.org/ns/credentials/v2"
ALUMNI = "https://w3id.org/passerelle/alumni/v1"


def write_config(folder: Path, port: int, database_url: str, extra: str = "") -> Path:
    config, node = init_node(folder, port, database_url, name=f"Bench {folder.name}", extra=extra)
    node.engine.dispose()
    return config


def issuer_token(config: Path) -> tuple[str, str]:
    """An administrator's API token on the issuer, and the issuer's DID."""
    settings = load_settings(config)
    engine = make_engine(settings.resolved_database_url)
    node = NodeContext(settings=settings, engine=engine, secret=settings.node_secret())
    make_admin(node, "admin@bench.example.org", "Grace", "Hopper", "correct horse battery staple, benchmarked")
    token = create_token(node, "admin@bench.example.org", "bench").token
    did = node.did
    engine.dispose()
    return token, did


def start(config: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from nodes.cli import main; main()", "--config", str(config), "serve",
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://localhost:{port}/healthz", timeout=1).status_code == 200:
                return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the node on port {port} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def credential(did: str, index: int) -> dict[str, object]:
    return {
        "@context": [V2, ALUMNI], "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": {"id": did, "name": "École Bench"}, "validFrom": "2024-09-01T00:00:00Z",
        "credentialSubject": {"type": "Person", "name": f"Camille Martin {index}", "alumniOf": {
            "type": "OrganizationRole", "alumniOf": {"id": did, "type": "EducationalOrganization",
                                                     "name": "École Bench"},
            "programme": "Génie civil", "degree": "Master", "classYear": 2000 + index}},
    }


def run(label: str, database_urls: tuple[str, str], args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        issuer_port, verifier_port = free_port(), free_port()
        issuer_config = write_config(Path(folder) / "issuer", issuer_port, database_urls[0])
        token, did = issuer_token(issuer_config)
        verifier_config = write_config(Path(folder) / "verifier", verifier_port, database_urls[1],
                                       f"trusted_issuers = [{json.dumps(did)}]\n")
        issuer = start(issuer_config, issuer_port, 1)
        verifier = None
        try:
            with httpx.Client(base_url=f"http://localhost:{issuer_port}", timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as http:
                issued = []
                for index in range(args.credentials):
                    answer = http.post("/credentials/issue", json={"credential": credential(did, index)})
                    if answer.status_code != 201:
                        raise SystemExit(f"issuing failed: HTTP {answer.status_code} {answer.text[:300]}")
                    issued.append(answer.json()["verifiableCredential"])
            verifier = start(verifier_config, verifier_port, args.workers)
            host = f"localhost:{verifier_port}"
            bodies = [request_bytes("POST", "/credentials/verify", host, {"Content-Type": "application/json"},
                                    json.dumps({"verifiableCredential": c}).encode()) for c in issued]
            with httpx.Client(base_url=f"http://{host}", timeout=30) as http:  # warm every worker's caches
                for index in range(args.workers * 20):
                    answer = http.post("/credentials/verify",
                                       json={"verifiableCredential": issued[index % len(issued)]},
                                       headers={"Connection": "close"})
                    if answer.status_code != 200:
                        raise SystemExit(f"warm-up: HTTP {answer.status_code} {answer.text[:500]}")
            warm = closed_loop(verifier_port, args.clients, 1.0, lambda i, _a: bodies[i % len(bodies)])
            if warm.errors:
                raise SystemExit(f"warm-up: unexpected answers {warm.errors}")
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"\n{label}: verifier with {args.workers} uvicorn worker(s) on http://{host}, issuer {did}"
                  f"   (load average before: {load})")
            health = request_bytes("GET", "/healthz", host)
            ceiling = closed_loop(verifier_port, args.clients, args.seconds / 2, lambda i, _a: health)
            print(f"  ceiling: GET /healthz, {args.clients} connections     {ceiling.describe()}")
            with profiling(args.profile, verifier.pid, label, args.seconds):
                result = closed_loop(verifier_port, args.clients, args.seconds,
                                     lambda i, _a: bodies[i % len(bodies)])
            verdict = "meets the target" if result.rate > TARGET and not result.errors else "BELOW the target"
            print(f"  POST /credentials/verify, {args.clients} connections   {result.describe()}")
            print(f"      [target > {TARGET:,} requests/s on 2 cores: {verdict}]")
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"  (load average after: {load})")
        finally:
            if verifier is not None:
                stop(verifier)
            stop(issuer)


@contextlib.contextmanager
def profiling(folder: Path | None, pid: int, label: str, seconds: float):  # type: ignore[no-untyped-def]
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    out = folder / f"verify-{label}.txt"
    process = subprocess.Popen([str(spy), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
                                "--duration", str(max(1, int(seconds) - 1)), "--output", str(out), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.wait(timeout=seconds + 30)
        print(f"  py-spy samples (collapsed stacks): {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the measurement")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="verifier uvicorn workers")
    parser.add_argument("--credentials", type=int, default=8, help="distinct credentials posted in turn")
    parser.add_argument("--postgres", default=os.environ.get("PASSERELLE_TEST_POSTGRES_URL"),
                        help="also run on fresh databases of this PostgreSQL server")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even when a URL is known")
    parser.add_argument("--profile", type=Path, help="sample the verifier with py-spy and keep the stacks here")
    args = parser.parse_args()
    print(f"POST /credentials/verify for a cached issuer; {os.cpu_count()} CPUs; the load generator (this process) "
          "shares them with the verifier (and the idle issuer), so the figures are a lower bound")
    run("SQLite", ("", ""), args)
    if args.postgres and not args.sqlite_only:
        with postgres_database(args.postgres) as issuer_url, postgres_database(args.postgres) as verifier_url:
            run("PostgreSQL", (issuer_url, verifier_url), args)


if __name__ == "__main__":
    main()
