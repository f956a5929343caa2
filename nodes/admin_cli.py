"""The ``roster`` and ``admin`` command groups of ``passerelle``: what an organisation's administrator runs.

``roster import`` checks the whole file first and exits 1 with line-numbered errors when it is refused; nothing is
stored then. After a successful import the new members are invited (``--no-invite`` to skip), once the import's
transaction has committed, so an invitation never points at a member that a rollback removed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from nodes.context import NodeContext
from nodes.members import InvalidEmail
from nodes.roster.apply import ImportReport, import_roster
from nodes.roster.parse import read_roster_file
from nodes.roster.problems import RosterFileError
from nodes.settings import ConfigError
from nodes.storage.db import make_engine

roster_app = typer.Typer(help="Import and export the roster CSV.", no_args_is_help=True)
admin_app = typer.Typer(help="The node's administrators.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
ERRORS_SHOWN = 200
PHASES = {"check": "checking rows", "members": "writing members", "affiliations": "writing affiliations"}


def _node() -> NodeContext:
    from nodes.cli import settings  # the --config option lives with the main app

    node = settings()
    try:
        return NodeContext(settings=node, engine=make_engine(node.resolved_database_url), secret=node.node_secret())
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _say(text: str, to: Console = console) -> None:
    """Print ``text`` as it is: roster cells in it are never read as rich markup."""
    to.print(text, markup=False, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _import_with_progress(node: NodeContext, data: bytes, source: str, skip_invalid: bool) -> ImportReport:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = int(bar.add_task(PHASES.get(phase, phase), total=total))
                if not console.is_terminal:
                    console.print(f"{PHASES.get(phase, phase)}…")  # a line per phase in logs, where no bar shows
            bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

        return import_roster(node, data, actor="cli", source=source, skip_invalid=skip_invalid, progress=progress)


def _print_report(report: ImportReport) -> None:
    for error in report.errors[:ERRORS_SHOWN]:
        _say(str(error), err)
    if len(report.errors) > ERRORS_SHOWN:
        _say(f"… and {len(report.errors) - ERRORS_SHOWN} more problems", err)
    if report.ignored_columns:
        _say(f"ignored columns: {', '.join(report.ignored_columns)}")
    if report.imported:
        _say(
            f"imported {report.rows} rows in {report.seconds:.1f} s: {report.created} created, {report.updated} "
            f"updated, {report.unchanged} unchanged, {report.skipped} skipped; {report.members_created} new "
            f"members, {report.members_updated} members corrected"
        )


def _invite(node: NodeContext, member_ids: list[int]) -> None:
    from nodes.invitations import InvitationDeliveryError, issue_invitations

    try:
        issued = issue_invitations(node, member_ids, actor="cli")
    except InvitationDeliveryError as exc:
        raise _fail(f"{len(exc.delivered)} invitations sent, {len(exc.failed)} could not be sent ({exc}); "
                    "send them again from the members page") from None
    where = "by e-mail" if node.settings.smtp.host else f"to the outbox {node.settings.outbox_dir}"
    _say(f"{len(issued)} invitations sent {where}")


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="Roster CSV (UTF-8).")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, skip the others.")
    ] = False,
    no_invite: Annotated[bool, typer.Option("--no-invite", help="Do not invite the new members.")] = False,
) -> None:
    """Import (or re-import) the roster: members and affiliations are created or updated, never duplicated."""
    node = _node()
    try:
        data = read_roster_file(file, node.settings.roster_max_bytes)
        report = _import_with_progress(node, data, file.name, skip_invalid)
    except RosterFileError as exc:
        raise _fail(str(exc.error)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"the database refused the import ({type(exc).__name__}); nothing was imported", 2) from None
    _print_report(report)
    if not report.imported:
        raise _fail(f"the roster was refused ({len(report.errors)} problems); nothing was imported")
    if report.new_member_ids and not no_invite:
        _invite(node, report.new_member_ids)


@roster_app.command("export")
def roster_export(file: Annotated[Path, typer.Argument(help="CSV file to write.")]) -> None:
    """Write the roster as CSV (formula-looking cells are neutralised for spreadsheets)."""
    from nodes.roster.export import export_roster

    count = export_roster(_node(), file)
    _say(f"wrote {count} rows to {file}")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option("--email", help="The administrator's e-mail address.")],
    given_name: Annotated[str | None, typer.Option("--given-name", help="Needed for a new member.")] = None,
    family_name: Annotated[str | None, typer.Option("--family-name", help="Needed for a new member.")] = None,
    reset_password: Annotated[bool, typer.Option("--reset-password", help="Set a new password.")] = False,
) -> None:
    """Create an administrator, or promote an existing member. The password is prompted for twice, or read from
    PASSERELLE_ADMIN_PASSWORD."""
    from nodes.admins import AdminProblem, make_admin, needs_password

    node = _node()
    try:
        password = None
        if needs_password(node, email, reset_password):
            password = os.environ.get("PASSERELLE_ADMIN_PASSWORD") or typer.prompt(
                "Password", hide_input=True, confirmation_prompt=True
            )
        result = make_admin(node, email, given_name, family_name, password)
    except (InvalidEmail, AdminProblem) as exc:
        raise _fail(str(exc), 2) from None
    done = {"admin.create": "created administrator", "admin.promote": "promoted to administrator",
            "admin.password": "new password for administrator", "none": "already an administrator:"}
    _say(f"{done[result.action]} {email.strip()} ({result.public_id})")
