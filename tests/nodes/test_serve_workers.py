"""``passerelle serve --workers N``: several uvicorn processes serve one node (each builds the app from the same
configuration through ``nodes.app.app_from_environment``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_serve_with_two_workers_answers_health_and_verification_requests(make_node):
    port = free_port()
    node = make_node(port=port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from nodes.cli import main; main()", "--config", str(node.config_file), "serve",
         "--port", str(port), "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://localhost:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200, process.stderr.read() if process.stderr else ""
        with httpx.Client(base_url=f"http://localhost:{port}", timeout=10) as client:
            for _ in range(4):  # new connections: both workers may answer
                answer = client.post("/credentials/verify", json={"verifiableCredential": {"type": "nothing"}},
                                     headers={"Connection": "close"})
                assert answer.status_code == 400 and answer.json()["verified"] is False
    finally:
        process.terminate()
        process.wait(timeout=30)
