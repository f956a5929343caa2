"""The ``credentials`` and ``api-tokens`` command groups of ``passerelle``.

``credentials issue`` issues what is missing (one credential per affiliation without a valid one) for one member or
the whole roster, ``--output`` writes them to a file or a folder; ``revoke|suspend|reinstate`` change one
credential with a reason (audited, committed before the command returns); ``verify FILE`` prints every check and
exits 0 only when the credential or presentation is verified (1 when not, 2 for an unusable file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlmodel import Session, select

from credentials import vc_structure
from credentials.verification_result import Check, CredentialResult, PresentationResult
from nodes.admin_cli import _node
from nodes.credential_states import Action, StateProblem, change_state
from nodes.issuance import IssueReport, issue_affiliations, pending_affiliations
from nodes.members import InvalidEmail, email_key
from nodes.storage.models import Member
from nodes.web.errors import ProblemError
from nodes.web.json_body import parse_json

credentials_app = typer.Typer(help="Issue, revoke, suspend, reinstate and verify credentials.", no_args_is_help=True)
api_tokens_app = typer.Typer(help="Bearer tokens for the VC-API (POST /credentials/issue).", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
MAX_FILE = 1024 * 1024


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@credentials_app.command("issue")
def issue(
    member: Annotated[str | None, typer.Option("--member", help="The member's e-mail address.")] = None,
    all_members: Annotated[bool, typer.Option("--all", help="Every member of the roster.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (one credential) or folder.")] = None,
    open_badge: Annotated[bool, typer.Option("--open-badge", help="Issue Open Badges 3.0 credentials.")] = False,
) -> None:
    """Issue the missing credentials of one member or of everyone."""
    if bool(member) == all_members:
        raise _fail("give either --member EMAIL or --all")
    node = _node()
    with Session(node.engine) as db:
        member_id = _member_id(db, member) if member else None
        pending = pending_affiliations(db, open_badge=open_badge, member_id=member_id)
    def progress(done: int, total: int) -> None:
        err.print(f"issued {done}/{total}")

    report = issue_affiliations(node, pending, actor="cli", open_badge=open_badge,
                                progress=progress if all_members else None)
    for affiliation_id, reason in report.skipped:
        err.print(f"skipped affiliation {affiliation_id}: {escape(reason)}")
    console.print(f"issued {len(report.issued)} credentials, skipped {len(report.skipped)}")
    _write(report, output, to_stdout=member is not None)


def _member_id(db: Session, email: str) -> int:
    try:
        key = email_key(email)
    except InvalidEmail as exc:
        raise _fail(str(exc)) from None
    found = db.exec(select(Member.id).where(Member.email_key == key)).first()
    if found is None:
        raise _fail(f"no member has the e-mail address {email}")
    return int(found)


def _write(report: IssueReport, output: Path | None, *, to_stdout: bool) -> None:
    documents = [row.document for row in report.issued]
    if output is None:
        if to_stdout and documents:
            console.print_json(json.dumps(documents[0] if len(documents) == 1 else documents, ensure_ascii=False))
        return
    if len(documents) == 1 and not output.is_dir() and output.suffix == ".json":
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(documents[0], indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"wrote {output}")
        return
    output.mkdir(parents=True, exist_ok=True)
    for row in report.issued:
        name = row.id.rsplit(":", 1)[-1]
        (output / f"{name}.json").write_text(json.dumps(row.document, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"wrote {len(documents)} files to {output}")


def _change(credential_id: str, action: Action, reason: str) -> None:
    node = _node()
    try:
        change = change_state(node, credential_id, action, reason, actor="cli")
    except StateProblem as exc:
        raise _fail(exc.detail, 1) from None
    console.print(f"{credential_id}: {change.before} -> {change.after}")


@credentials_app.command("revoke")
def revoke(credential_id: Annotated[str, typer.Argument()],
           reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]) -> None:
    """Revoke a credential for good."""
    _change(credential_id, "revoke", reason)


@credentials_app.command("suspend")
def suspend(credential_id: Annotated[str, typer.Argument()],
            reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]) -> None:
    """Suspend a credential (it can be reinstated)."""
    _change(credential_id, "suspend", reason)


@credentials_app.command("reinstate")
def reinstate(credential_id: Annotated[str, typer.Argument()],
              reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]) -> None:
    """Lift a suspension."""
    _change(credential_id, "reinstate", reason)


@credentials_app.command("repair-status-lists")
def repair_status_lists() -> None:
    """After restoring an older database: re-apply what the last published status lists said (SECURITY X12)."""
    from nodes.status_high_water import repair

    report = repair(_node())
    if not report.lists:
        console.print("no status list went backwards; nothing to repair")
        return
    for credential_id, before, after in report.changes:
        console.print(f"{credential_id}: {before} -> {after}")
    console.print(f"repaired {', '.join(report.lists)}: {len(report.changes)} credentials restored")


@credentials_app.command("verify")
def verify(file: Annotated[Path, typer.Argument(help="A credential or presentation (JSON).")],
           challenge: Annotated[str | None, typer.Option(help="For a presentation: the challenge.")] = None,
           domain: Annotated[str | None, typer.Option(help="For a presentation: the domain.")] = None) -> None:
    """Print every check; exit 0 only when verified."""
    from nodes.verification import verify_credential_for, verify_presentation_for

    try:
        raw = file.read_bytes()[: MAX_FILE + 1]
    except OSError as exc:
        raise _fail(f"{file}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_FILE:
        raise _fail(f"{file} is larger than {MAX_FILE} bytes")
    try:
        document = parse_json(raw)
    except ProblemError as exc:
        raise _fail(f"{file}: {exc.detail}") from None
    node = _node()
    if isinstance(document, dict) and vc_structure.PRESENTATION_TYPE in vc_structure.types_of(document):
        result: CredentialResult | PresentationResult = verify_presentation_for(node, document, challenge, domain)
    else:
        result = verify_credential_for(node, document)
    _print_checks(result.checks)
    for index, item in enumerate(getattr(result, "credentials", ()), start=1):
        console.print(f"credential {index}:")
        _print_checks(item.checks, indent="  ")
    console.print("verified" if result.verified else "NOT verified")
    if not result.verified:
        raise typer.Exit(1)


def _print_checks(checks: tuple[Check, ...], indent: str = "") -> None:
    for check in checks:
        code = f" [{check.code}]" if check.code else ""
        console.print(f"{indent}{check.name:13} {check.outcome:8} {escape(check.reason)}{escape(code)}")


@api_tokens_app.command("add")
def tokens_add(email: Annotated[str, typer.Option("--admin", help="The administrator the token acts for.")],
               name: Annotated[str, typer.Option("--name", help="What the token is for.")]) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    from nodes.api_tokens import TokenProblem, create_token

    try:
        created = create_token(_node(), email, name)
    except (TokenProblem, InvalidEmail) as exc:
        raise _fail(str(exc)) from None
    err.print(f"token {created.id} created; it is shown once, keep it secret:")
    console.print(created.token, markup=False)


@api_tokens_app.command("list")
def tokens_list() -> None:
    """The tokens (no secret is stored, so none is shown)."""
    from nodes.api_tokens import list_tokens

    for row, email in list_tokens(_node()):
        state = "revoked" if row.revoked_at else "live"
        console.print(f"{row.id:4} {state:8} {escape(email)}  {escape(row.name)}", markup=True)


@api_tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke a token at once."""
    from nodes.api_tokens import TokenProblem, revoke_token

    try:
        revoke_token(_node(), token_id)
    except TokenProblem as exc:
        raise _fail(str(exc)) from None
    console.print(f"token {token_id} revoked")

