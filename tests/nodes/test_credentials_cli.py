"""``passerelle credentials`` and ``passerelle api-tokens``, run as an administrator would run them."""

from __future__ import annotations

import json

from sqlmodel import Session, select
from typer.testing import CliRunner

from nodes.cli import app
from nodes.storage.credential_tables import ApiToken, IssuedCredential
from tests.nodes.credential_support import issued_count, rows
from tests.seed import COMPANY_AFFILIATION, SCHOOL_AFFILIATION, seed_member


def run(node, *args: str):
    return CliRunner().invoke(app, ["-c", str(node.config_file), *args])


def test_issue_for_one_member_prints_the_signed_credential(make_node):
    node = make_node()
    seed_member(node.engine, affiliations=[SCHOOL_AFFILIATION])
    result = run(node, "credentials", "issue", "--member", "Alice@ecole.example")
    assert result.exit_code == 0, result.output
    assert "issued 1 credentials" in result.output
    document = json.loads(result.output[result.output.index("{"):])
    assert document["type"] == ["VerifiableCredential", "AlumniCredential"] and "proof" in document


def test_issue_for_everyone_writes_a_folder_and_then_has_nothing_left_to_issue(make_node, tmp_path):
    node = make_node()
    for number in range(3):
        seed_member(node.engine, email=f"m{number}@ecole.example", affiliations=[SCHOOL_AFFILIATION])
    out = tmp_path / "issued"
    result = run(node, "credentials", "issue", "--all", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.json"))) == 3 == issued_count(node)
    again = run(node, "credentials", "issue", "--all")
    assert "issued 0 credentials" in again.output and issued_count(node) == 3


def test_issue_an_open_badge_to_a_file(make_node, tmp_path):
    node = make_node(kind="company")
    seed_member(node.engine, affiliations=[COMPANY_AFFILIATION])
    target = tmp_path / "badge.json"
    result = run(node, "credentials", "issue", "--member", "alice@ecole.example", "--open-badge",
                 "--output", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


def test_issue_needs_exactly_one_of_member_and_all(make_node):
    node = make_node()
    assert run(node, "credentials", "issue").exit_code == 2
    assert run(node, "credentials", "issue", "--all", "--member", "a@b.example").exit_code == 2
    assert run(node, "credentials", "issue", "--member", "nobody@ecole.example").exit_code == 2


def test_suspend_reinstate_revoke_and_verify_exit_codes(make_node, tmp_path):
    node = make_node()
    seed_member(node.engine, affiliations=[SCHOOL_AFFILIATION])
    target = tmp_path / "credential.json"
    run(node, "credentials", "issue", "--member", "alice@ecole.example", "--output", str(target))
    [row] = rows(node)
    verified = run(node, "credentials", "verify", str(target))
    assert verified.exit_code == 0 and "proof" in verified.output and "verified" in verified.output
    assert run(node, "credentials", "suspend", row.id, "--reason", "check").exit_code == 0
    suspended = run(node, "credentials", "verify", str(target))
    assert suspended.exit_code == 1 and "suspended" in suspended.output and "NOT verified" in suspended.output
    assert run(node, "credentials", "reinstate", row.id, "--reason", "ok").exit_code == 0
    assert run(node, "credentials", "revoke", row.id, "--reason", "fraud").exit_code == 0
    assert run(node, "credentials", "revoke", row.id, "--reason", "again").exit_code == 1
    assert run(node, "credentials", "revoke", row.id, "--reason", "").exit_code == 1
    revoked = run(node, "credentials", "verify", str(target))
    assert revoked.exit_code == 1 and "revoked" in revoked.output
    with Session(node.engine) as db:
        assert db.get(IssuedCredential, row.id).state_reason == "fraud"


def test_verify_refuses_an_unusable_file_with_exit_code_2(make_node, tmp_path):
    node = make_node()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run(node, "credentials", "verify", str(bad)).exit_code == 2
    assert run(node, "credentials", "verify", str(tmp_path / "missing.json")).exit_code == 2
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"hello": "world"}))
    result = run(node, "credentials", "verify", str(wrong))
    assert result.exit_code == 1 and "structure" in result.output


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(make_node):
    node = make_node()
    seed_member(node.engine, email="admin@ecole.example", is_admin=True)
    seed_member(node.engine, email="bob@ecole.example")
    created = run(node, "api-tokens", "add", "--admin", "admin@ecole.example", "--name", "HR system")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("psl_")
    with Session(node.engine) as db:
        row = db.exec(select(ApiToken)).one()
    assert token not in repr(row.model_dump()) and len(row.token_hash) == 64
    assert "HR system" in run(node, "api-tokens", "list").output
    assert run(node, "api-tokens", "add", "--admin", "bob@ecole.example", "--name", "x").exit_code == 2
    assert run(node, "api-tokens", "revoke", str(row.id)).exit_code == 0
    assert run(node, "api-tokens", "revoke", str(row.id)).exit_code == 2


def test_a_roster_above_the_pool_threshold_is_issued_by_worker_processes_from_the_real_cli(make_node, tmp_path):
    """The console script in its own process, as an operator runs it: its signing workers are spawned from it
    (never forked), import what they need, and every credential they signed is recorded once and verifies."""
    import subprocess
    import sys
    from pathlib import Path

    from nodes.signing_pool import POOL_THRESHOLD
    from nodes.verification import verify_credential_for
    from tests.nodes.credential_support import allocated, context

    node = make_node()
    count = POOL_THRESHOLD + 50
    lines = ["email,given_name,family_name,programme,degree,class_year,groups"]
    lines += [f"m{n}@ecole.example,Given{n},Family{n},Génie logiciel,Master,{1990 + n % 30}," for n in range(count)]
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli = [str(Path(sys.executable).with_name("passerelle")), "-c", str(node.config_file)]
    imported = subprocess.run([*cli, "roster", "import", str(roster), "--no-invite"], capture_output=True, text=True,
                              timeout=120)
    assert imported.returncode == 0, imported.stderr
    issued = subprocess.run([*cli, "credentials", "issue", "--all"], capture_output=True, text=True, timeout=300)
    assert issued.returncode == 0, issued.stderr
    assert f"issued {count} credentials" in issued.stdout
    stored = rows(node)
    assert len(stored) == count == allocated(node)
    assert len({(row.status_list, row.status_index) for row in stored}) == count
    assert all(verify_credential_for(context(node), row.document).verified for row in stored[::200])
