"""kill -9 during credential work (SECURITY X2, B4): an acknowledged revocation survives, a bulk issuance leaves
no credential without its index and no index used twice, and running it again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from nodes.admins import make_admin
from nodes.issuance import issue_affiliations
from nodes.roster.apply import import_roster
from nodes.storage.credential_tables import IssuedCredential, StatusList
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.nodes.credential_support import allocated, context, issued_count, rows, seed_alumni
from tests.seed import PASSWORD

PASSERELLE = Path(sys.executable).parent / "passerelle"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _serve(node) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([str(PASSERELLE), "-c", str(node.config_file), "serve"], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(node.settings.base_url + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the node did not start")


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _snapshot(node) -> tuple[list[IssuedCredential], int]:
    """The credentials and the lists' allocation counters, read in one snapshot.

    On PostgreSQL a killed client's last COMMIT may still be completing in its server backend: two reads in separate
    snapshots could see the counters of a batch and not its rows. One REPEATABLE READ transaction sees both or neither.
    """
    with Session(node.engine.execution_options(isolation_level="REPEATABLE READ")
                 if node.engine.dialect.name == "postgresql" else node.engine) as db:
        stored = list(db.exec(select(IssuedCredential)))
        counted = int(db.exec(select(func.coalesce(func.sum(StatusList.allocated), 0))).one())
    return stored, counted


def test_x2_a_revocation_acknowledged_just_before_kill_9_is_kept_and_published(make_node):
    node = make_node()
    ctx = context(node)
    [row] = issue_affiliations(ctx, seed_alumni(node, 1), actor="test").issued
    make_admin(ctx, "admin@ecole.example", "Ada", "Admin", PASSWORD)
    process = _serve(node)
    try:
        with httpx.Client(base_url=node.settings.base_url, timeout=10) as client:
            sign_in(client, "admin@ecole.example", PASSWORD)
            page = client.get("/admin/credentials/view", params={"id": row.id}, headers=HTML)
            answer = client.post("/admin/credentials/state", headers=HTML, data={
                "csrf_token": csrf_of(page), "id": row.id, "action": "revoke", "reason": "fraud"})
        assert answer.status_code == 303
    finally:
        _kill(process)  # at once, before anything else could be flushed
    process = _serve(node)
    try:
        with httpx.Client(base_url=node.settings.base_url, timeout=10) as client:
            verdict = client.post("/credentials/verify", json={"verifiableCredential": row.document}).json()
            listed = client.get(f"/status/revocation/{row.status_list}")
    finally:
        _kill(process)
    assert verdict["status"] == "revoked"
    assert listed.status_code == 200 and listed.headers["etag"] == f'"{row.status_list}-2"'


@pytest.mark.slow
def test_x2_kill_9_during_bulk_issuance_leaves_every_credential_with_its_own_index(make_node):
    node = make_node()
    members = 1500
    roster = "email,given_name,family_name,programme,degree,class_year,groups\n" + "".join(
        f"p{i}@ecole.example,Given{i},Family{i},Informatique,Master,{1990 + i % 30},\n" for i in range(members))
    assert import_roster(context(node), roster.encode(), actor="test").imported
    process = subprocess.Popen([str(PASSERELLE), "-c", str(node.config_file), "credentials", "issue", "--all"],
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("issued 200/"):
                break
        time.sleep(0.2)
        killed_while_running = process.poll() is None
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    stored, counted = _snapshot(node)
    assert killed_while_running and 0 < len(stored) < members, "make the roster larger"
    assert len(stored) % 200 == 0  # whole batches only: each is one transaction
    assert len({(r.status_list, r.status_index) for r in stored}) == len(stored) == counted
    assert all("proof" in r.document for r in stored)
    if node.engine.dialect.name == "sqlite":
        with node.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    again = subprocess.run([str(PASSERELLE), "-c", str(node.config_file), "credentials", "issue", "--all"],
                           env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    stored = rows(node)
    assert issued_count(node) == members == allocated(node)
    assert len({(r.status_list, r.status_index) for r in stored}) == members
    assert len({r.affiliation_id for r in stored}) == members
