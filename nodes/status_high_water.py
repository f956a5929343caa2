"""A published status list never goes backwards (SECURITY X12): the last published version of each list, kept
outside the database, and the operator's way out after restoring an older backup.

Every time a new version of a list is published, its version and its ``encodedList`` are written to
``<data_dir>/status-lists.json`` (temp file, fsync, atomic rename). If the database later holds an older version
(a restored backup has forgotten the revocations made since), the node logs an alert and refuses to serve that list
(503) instead of silently un-revoking credentials. :func:`repair` (``passerelle credentials repair-status-lists``)
then re-applies what the last published list said to the credentials' states — revocations are restored,
suspensions follow the newer list — audits each change, and publishes a version above the old one. The runbook is
in ``docs/operations.md``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from credentials.status import decode_bitstring
from nodes.audit import record
from nodes.context import NodeContext
from nodes.status_lists import expected_bits
from nodes.storage.credential_tables import IssuedCredential, StatusListBits
from nodes.storage.db import transaction

log = logging.getLogger("passerelle.status")
_LOCK = threading.Lock()
RESTORED = "restored from the last published status list after a database restore"


@dataclass(frozen=True)
class Mark:
    version: int
    encoded_list: str


@dataclass
class RepairReport:
    lists: list[str] = field(default_factory=list)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (credential id, before, after)


def _file(node: NodeContext) -> Path:
    return node.settings.data_dir / "status-lists.json"


def published_marks(node: NodeContext) -> dict[str, Mark]:
    """The last published version of each list (``purpose/number`` → :class:`Mark`)."""
    try:
        data = json.loads(_file(node).read_text(encoding="utf-8"))
        return {str(name): Mark(int(mark["version"]), str(mark["encoded_list"])) for name, mark in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def check_high_water(node: NodeContext, versions: dict[str, int]) -> list[str]:
    """The lists whose database version is below the published one; each is logged as an alert."""
    marks = published_marks(node)
    behind = [name for name, version in versions.items() if name in marks and version < marks[name].version]
    for name in behind:
        log.error("status list %s went backwards (database version %s, published %s): restored from an older "
                  "backup? It is not served until an operator runs 'passerelle credentials repair-status-lists'",
                  name, versions[name], marks[name].version)
    return behind


def record_published(node: NodeContext, name: str, version: int, encoded_list: str) -> None:
    """Raise the mark of ``name`` to ``version`` (never lowering it)."""
    with _LOCK:
        marks = published_marks(node)
        if name in marks and marks[name].version >= version:
            return
        marks[name] = Mark(version, encoded_list)
        path = _file(node)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".status-lists.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({k: {"version": m.version, "encoded_list": m.encoded_list} for k, m in marks.items()}, handle,
                      sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


def repair(node: NodeContext, *, actor: str = "cli") -> RepairReport:
    """Bring every list that went backwards up to what was last published, through the credentials' states."""
    marks, report = published_marks(node), RepairReport()
    with transaction(node.engine) as db:
        rows = [row for row in db.exec(select(StatusListBits).with_for_update())
                if f"{row.purpose}/{row.list_number}" in marks
                and row.version < marks[f"{row.purpose}/{row.list_number}"].version]
        for row in rows:
            name = f"{row.purpose}/{row.list_number}"
            published = decode_bitstring(marks[name].encoded_list)
            for credential in db.exec(select(IssuedCredential).where(IssuedCredential.status_list == row.list_number)):
                after = _state_after(credential.state, row.purpose, published.get(credential.status_index))
                if after != credential.state:
                    report.changes.append((credential.id, credential.state, after))
                    record(db, node.clock, actor, "credential.restore", target=credential.id, reason=RESTORED,
                           before=credential.state, after=after)
                    credential.state, credential.state_reason = after, RESTORED
                    credential.state_changed_at = node.clock()
                    db.add(credential)
            report.lists.append(name)
        db.flush()
        for row in db.exec(select(StatusListBits)):
            name = f"{row.purpose}/{row.list_number}"
            expected = expected_bits(db, row.list_number, row.purpose)
            if name in report.lists or expected.to_bytes() != decode_bitstring(row.encoded_list).to_bytes():
                row.encoded_list, row.updated_at = expected.encode(), node.clock()
                row.version = max(row.version, marks[name].version if name in marks else 0) + 1
                db.add(row)
        if report.lists:
            record(db, node.clock, actor, "status_list.repair", lists=report.lists, changed=len(report.changes))
    return report


def _state_after(state: str, purpose: str, bit: int) -> str:
    if state == "revoked":
        return state  # revocation is final, whatever an older list said
    if purpose == "revocation":
        return "revoked" if bit else state
    if bit:
        return "suspended"
    return "active" if state == "suspended" else state
