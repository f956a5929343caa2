"""The ``passerelle roster`` and ``passerelle admin`` commands, run as an administrator would run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from nodes.cli import app
from nodes.members import verify_password
from nodes.storage.models import Affiliation, AuditEvent, Invitation, Member
from tests.seed import PASSWORD, seed_member

HEADER = "email,given_name,family_name,programme,degree,class_year,groups\n"
ROWS = ("ada@ecole.example,Ada,Lovelace,Informatique,Master,2015,\n"
        "lea@ecole.example,Léa,Dubois,Génie civil,Licence,2012,\n")
PASSERELLE = Path(sys.executable).parent / "passerelle"


def run(node, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["-c", str(node.config_file), *args], input=input, env=env)


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def count(node, model) -> int:
    with Session(node.engine) as db:
        return int(db.exec(select(func.count()).select_from(model)).one())


def audit_actions(node) -> list[str]:
    with Session(node.engine) as db:
        return [e.action for e in db.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]


def test_roster_import_prints_the_report_and_invites_the_new_members(make_node, tmp_path):
    node = make_node()
    result = run(node, "roster", "import", str(write(tmp_path / "r.csv", HEADER + ROWS)))
    assert result.exit_code == 0, result.output
    assert "imported 2 rows" in result.output and "2 created" in result.output
    assert "2 invitations sent to the outbox" in result.output
    assert len(list((node.settings.data_dir / "outbox").glob("*.eml"))) == 2
    assert count(node, Invitation) == 2
    again = run(node, "roster", "import", str(tmp_path / "r.csv"))
    assert "2 unchanged" in again.output and "invitations" not in again.output
    assert count(node, Invitation) == 2, "members already invited are not invited again by a re-import"


def test_roster_import_no_invite_sends_nothing(make_node, tmp_path):
    node = make_node()
    result = run(node, "roster", "import", "--no-invite", str(write(tmp_path / "r.csv", HEADER + ROWS)))
    assert result.exit_code == 0, result.output
    assert count(node, Member) == 2 and count(node, Invitation) == 0
    assert not (node.settings.data_dir / "outbox").exists() or not any((node.settings.data_dir / "outbox").iterdir())


def test_invalid_roster_exits_1_with_line_numbered_errors_and_stores_nothing(make_node, tmp_path):
    node = make_node()
    bad = HEADER + ROWS + "bad-address,X,Y,Info,Master,2015,\nlea@ecole.example,Léa,Dubois,Génie civil,Licence,2012,\n"
    result = run(node, "roster", "import", str(write(tmp_path / "r.csv", bad)))
    assert result.exit_code == 1
    assert "line 4: \u201cbad-address\u201d is not a valid e-mail address" in result.output
    assert "line 5: the same row as line 3" in result.output
    assert "nothing was imported" in result.output
    assert count(node, Member) == 0 and count(node, Invitation) == 0


def test_skip_invalid_imports_the_rest_and_lists_the_skipped_lines(make_node, tmp_path):
    node = make_node()
    bad = HEADER + ROWS + "bad-address,X,Y,Info,Master,2015,\n"
    result = run(node, "roster", "import", "--skip-invalid", "--no-invite", str(write(tmp_path / "r.csv", bad)))
    assert result.exit_code == 0, result.output
    assert "line 4:" in result.output and "1 skipped" in result.output
    assert count(node, Member) == 2


def test_missing_column_and_unreadable_file_exit_1_naming_the_problem(make_node, tmp_path):
    node = make_node()
    result = run(node, "roster", "import", str(write(tmp_path / "r.csv", "email,given_name\nx@y.example,X\n")))
    assert result.exit_code == 1 and "missing column: family_name, programme, degree, class_year" in result.output
    result = run(node, "roster", "import", str(tmp_path / "absent.csv"))
    assert result.exit_code == 1 and "cannot read the file" in result.output


def test_roster_export_writes_neutralised_csv(make_node, tmp_path):
    node = make_node()
    run(node, "roster", "import", "--no-invite",
        str(write(tmp_path / "r.csv", HEADER + "eve@ecole.example,Eve,Formula,=1+2,Master,2015,@group\n")))
    result = run(node, "roster", "export", str(tmp_path / "out.csv"))
    assert result.exit_code == 0 and "wrote 1 rows" in result.output
    exported = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()
    assert exported[1] == '"eve@ecole.example","Eve","Formula","\'=1+2","Master","2015","\'@group"'
    assert audit_actions(node)[-1] == "roster.export"


def test_admin_create_with_password_from_the_environment(make_node):
    node = make_node()
    result = run(node, "admin", "create", "--email", "Root@Ecole.example", "--given-name", "Grace",
                 "--family-name", "Hopper", env={"PASSERELLE_ADMIN_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "created administrator Root@Ecole.example" in result.output
    with Session(node.engine) as db:
        admin = db.exec(select(Member)).one()
        event = db.exec(select(AuditEvent).where(AuditEvent.action == "admin.create")).one()
    assert admin.is_admin and admin.email_key == "root@ecole.example" and admin.claimed_at is not None
    assert verify_password(admin.password_hash, PASSWORD)
    assert (event.actor, event.target, event.detail) == ("cli", admin.public_id, {"password_set": True})
    assert PASSWORD not in str(event.detail)


def test_admin_create_prompts_twice_for_the_password(make_node):
    node = make_node()
    result = run(node, "admin", "create", "--email", "root@ecole.example", "--given-name", "Grace",
                 "--family-name", "Hopper", input=f"{PASSWORD}\n{PASSWORD}\n", env={"PASSERELLE_ADMIN_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with Session(node.engine) as db:
        assert verify_password(db.exec(select(Member)).one().password_hash, PASSWORD)


def test_admin_create_refuses_a_short_password_and_stores_nothing(make_node):
    node = make_node()
    result = run(node, "admin", "create", "--email", "root@ecole.example", "--given-name", "G", "--family-name", "H",
                 env={"PASSERELLE_ADMIN_PASSWORD": "short"})
    assert result.exit_code == 2 and "at least 12 characters" in result.output
    assert count(node, Member) == 0 and count(node, AuditEvent) == 0


def test_admin_create_promotes_a_claimed_member_and_keeps_their_password(make_node):
    node = make_node()
    seed_member(node.engine, email="alice@ecole.example", password=PASSWORD)
    result = run(node, "admin", "create", "--email", "ALICE@ecole.example",
                 env={"PASSERELLE_ADMIN_PASSWORD": "another password entirely"})
    assert result.exit_code == 0 and "promoted to administrator" in result.output
    with Session(node.engine) as db:
        alice = db.exec(select(Member)).one()
    assert alice.is_admin and verify_password(alice.password_hash, PASSWORD)
    assert audit_actions(node) == ["admin.promote"]
    again = run(node, "admin", "create", "--email", "alice@ecole.example")
    assert again.exit_code == 0 and "already an administrator" in again.output
    assert audit_actions(node) == ["admin.promote"]


def test_admin_create_needs_names_for_a_new_member_and_a_valid_email(make_node):
    node = make_node()
    env = {"PASSERELLE_ADMIN_PASSWORD": PASSWORD}
    assert run(node, "admin", "create", "--email", "root@ecole.example", env=env).exit_code == 2
    assert run(node, "admin", "create", "--email", "not-an-email", "--given-name", "G", "--family-name", "H",
               env=env).exit_code == 2
    assert count(node, Member) == 0


def big_roster(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for i in range(rows):
            handle.write(f"person{i}@ecole.example,Given{i},Family{i},Informatique,Master,{1950 + i % 70},Club\n")
    return path


@pytest.mark.slow
def test_kill_9_during_a_large_cli_import_leaves_nothing_half_imported(make_node, tmp_path):
    node = make_node()
    rows = 60_000
    roster = big_roster(tmp_path / "big.csv", rows)
    process = subprocess.Popen(
        [str(PASSERELLE), "-c", str(node.config_file), "roster", "import", "--no-invite", str(roster)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the members are being written inside the import's transaction
            if line.startswith("writing members"):
                break
        time.sleep(0.3)
        killed_while_running = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stored = (count(node, Member), count(node, Affiliation))
    assert stored in ((0, 0), (rows, rows)), f"half-imported: {stored}"
    assert killed_while_running, "the import finished before it could be killed; make the roster larger"
    if node.engine.dialect.name == "sqlite":
        with node.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    result = run(node, "roster", "import", "--no-invite", str(roster))
    assert result.exit_code == 0, result.output
    assert (count(node, Member), count(node, Affiliation)) == (rows, rows)
