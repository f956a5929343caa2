"""The node's Bitstring Status Lists: index allocation, bit changes, publication, and rebuilding from the database.

Privacy (SECURITY S8): indexes are drawn at random among the free ones of a list of 131,072 entries, a list counts
as full at half (so draws stay fast and the herd stays large), and the published URL ``/status/{purpose}/{number}``
carries nothing about any holder.

Allocation is optimistic: :func:`draw` picks free random indexes before the credentials are signed (signing a
roster runs on every CPU, outside any transaction), and :func:`reserve` counts them in the transaction that records
the credentials, with one conditional ``UPDATE``; the ``UNIQUE (status_list, status_index)`` constraint is the wall
against two issuers that drew the same index at once (B4): the later one draws again and signs again. A rollback
returns the reservation with everything else: a crash leaves no credential without its index and no index used
twice.

The truth is each credential's ``state``; :func:`rebuild` re-derives every bitstring from it at start-up. Versions
only grow; :mod:`nodes.status_high_water` keeps the last published version of each list outside the database, so
that a database restored from an older backup is noticed and its lists are not published (X12).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from credentials.status import MIN_ENTRIES, Bitstring, decode_bitstring
from credentials.status.allocation import MAX_FILL
from credentials.status.documents import ISSUED_PURPOSES, IssuedPurpose, status_list_entry
from nodes.context import NodeContext
from nodes.storage.credential_tables import IssuedCredential, StatusList, StatusListBits
from nodes.storage.db import transaction

log = logging.getLogger("passerelle.status")
LIST_ENTRIES = MIN_ENTRIES
CAPACITY = int(LIST_ENTRIES * MAX_FILL)
STATE_BITS: dict[str, IssuedPurpose | None] = {"active": None, "revoked": "revocation", "suspended": "suspension"}
RandomBelow = Callable[[int], int]


class NoOpenList(Exception):
    """No status list has room for the reservation; open a new one (:func:`open_list`) and try again."""


class StatusListRollback(RuntimeError):
    """The database holds an older version of a status list than was already published (SECURITY X12)."""


def list_url(node: NodeContext, purpose: str, number: int) -> str:
    return f"{node.settings.base_url}/status/{purpose}/{number}"


def status_entries(node: NodeContext, number: int, index: int) -> list[dict[str, str]]:
    """The ``credentialStatus`` of a credential at ``number/index``: one entry per purpose, same index."""
    return [status_list_entry(list_credential=list_url(node, purpose, number), index=index, purpose=purpose)
            for purpose in ISSUED_PURPOSES]


def draw(db: Session, count: int, below: RandomBelow = secrets.randbelow,
         known: dict[int, set[int]] | None = None) -> tuple[int, list[int]]:
    """Choose ``count`` free random indexes of the first list with room; :class:`NoOpenList` if none has any.

    Read-only: nothing is reserved until :func:`reserve` runs in the transaction that records the credentials, so a
    batch that fails to sign or to record leaves no trace. A bulk issuer passes ``known``, its own record of the
    indexes taken in each list: a list's used indexes are then read once, in one query, and every index drawn is
    added to it, so a pipeline of batches never draws one twice and never asks the database again. A concurrent
    issuer may still draw the same index; the ``UNIQUE (status_list, status_index)`` constraint makes the slower one
    draw again (B4).
    """
    lists = db.exec(select(StatusList.number, StatusList.allocated).order_by(col(StatusList.number))).all()
    for number, allocated in lists:
        if known is None:
            if allocated + count <= CAPACITY:
                return number, _free_indexes(db, number, count, below)
            continue
        if number not in known:
            known[number] = set(db.exec(select(IssuedCredential.status_index)
                                        .where(IssuedCredential.status_list == number)))
        taken = known[number]
        if max(allocated, len(taken)) + count <= CAPACITY:
            chosen = _draw_outside(taken, count, below)
            taken.update(chosen)
            return number, chosen
    raise NoOpenList


def reserve(db: Session, number: int, count: int) -> None:
    """Count ``count`` more indexes of list ``number`` as used, in the recording transaction.

    The conditional ``UPDATE`` re-checks the room on the locked row (a row lock on PostgreSQL, the write lock on
    SQLite); :class:`NoOpenList` if another issuer filled the list meanwhile.
    """
    reserved = db.exec(
        update(StatusList)
        .where(col(StatusList.number) == number, col(StatusList.allocated) + count <= CAPACITY)
        .values(allocated=StatusList.allocated + count)
        .returning(col(StatusList.number))
    ).first()
    if reserved is None:
        raise NoOpenList


def _free_indexes(db: Session, number: int, count: int, below: RandomBelow) -> list[int]:
    chosen: dict[int, None] = {}
    for _ in range(64):
        missing = count - len(chosen)
        if missing == 0:
            break
        draws = {below(LIST_ENTRIES) for _ in range(missing * 2 + 2)} - chosen.keys()
        taken = set(db.exec(select(IssuedCredential.status_index).where(
            IssuedCredential.status_list == number, col(IssuedCredential.status_index).in_(draws))))
        for index in draws - taken:
            if len(chosen) < count:
                chosen[index] = None
    if len(chosen) < count:
        raise NoOpenList  # a list reported as having room has none: let the caller open another
    return list(chosen)


def _draw_outside(taken: set[int], count: int, below: RandomBelow) -> list[int]:
    chosen: dict[int, None] = {}
    for _ in range(count * 64):  # the list is at most half full: each draw misses with a chance of one half at most
        if len(chosen) == count:
            return list(chosen)
        index = below(LIST_ENTRIES)
        if index not in taken:
            chosen[index] = None
    raise NoOpenList


def open_list(node: NodeContext) -> int:
    """Create the next status list (both purposes, all zeros) in its own transaction; returns its number.

    Two workers racing here both succeed: the loser's insert fails on the primary key and it simply retries.
    """
    now = node.clock()
    zeros = Bitstring.zeros(LIST_ENTRIES).encode()
    with transaction(node.engine) as db:
        number = (db.exec(select(func.max(StatusList.number))).one() or 0) + 1
        db.add(StatusList(number=number, entries=LIST_ENTRIES, created_at=now))
        db.flush()
        for purpose in ISSUED_PURPOSES:
            db.add(StatusListBits(list_number=number, purpose=purpose, encoded_list=zeros, version=1,
                                  ttl_seconds=node.settings.status_list_ttl_seconds, updated_at=now))
    return number


def set_bits(db: Session, number: int, changes: dict[IssuedPurpose, dict[int, int]], now: datetime) -> None:
    """Write ``{purpose: {index: 0|1}}`` into the list's bitstrings and bump each changed list's version.

    Called inside the transaction that changes the credentials' states, after their rows are written.
    """
    for purpose, bits in changes.items():
        row = db.exec(select(StatusListBits).where(StatusListBits.list_number == number,
                                                   StatusListBits.purpose == purpose).with_for_update()).one()
        bitstring = decode_bitstring(row.encoded_list)
        before = bitstring.to_bytes()
        for index, value in bits.items():
            bitstring.set(index, value)
        if bitstring.to_bytes() != before:
            row.encoded_list, row.version, row.updated_at = bitstring.encode(), row.version + 1, now
            db.add(row)


def expected_bits(db: Session, number: int, purpose: str) -> Bitstring:
    """The bitstring of list ``number`` for ``purpose`` as the credentials' states say it should be."""
    state = next(state for state, bit in STATE_BITS.items() if bit == purpose)
    bits = Bitstring.zeros(LIST_ENTRIES)
    for index in db.exec(select(IssuedCredential.status_index).where(IssuedCredential.status_list == number,
                                                                     IssuedCredential.state == state)):
        bits.set(index, 1)
    return bits


def rebuild(node: NodeContext) -> int:
    """Re-derive every bitstring from the credentials' states; returns how many lists were corrected.

    Run at start-up. States and bits change in one transaction, so a correction means someone edited one
    without the other (or ``status_list_ttl_seconds`` changed); the corrected list gets a new version. A list
    older than the one already published is left alone: it is the operator's (:mod:`nodes.status_high_water`).
    """
    from nodes.status_high_water import check_high_water

    behind = set(check_high_water(node, rows_versions(node)))
    corrected = 0
    ttl = node.settings.status_list_ttl_seconds
    with transaction(node.engine) as db:
        for row in db.exec(select(StatusListBits)):
            if f"{row.purpose}/{row.list_number}" in behind:
                continue
            expected = expected_bits(db, row.list_number, row.purpose)
            # Compared as bits, not as text: another zlib may compress the same bits differently.
            if expected.to_bytes() != decode_bitstring(row.encoded_list).to_bytes() or row.ttl_seconds != ttl:
                row.encoded_list, row.version, row.updated_at = expected.encode(), row.version + 1, node.clock()
                row.ttl_seconds = ttl
                db.add(row)
                corrected += 1
    if corrected:
        log.warning("status lists rebuilt from credential states", extra={"corrected": corrected})
    return corrected


def rows_versions(node: NodeContext) -> dict[str, int]:
    with Session(node.engine) as db:
        rows = db.exec(select(StatusListBits.purpose, StatusListBits.list_number, StatusListBits.version)).all()
    return {f"{purpose}/{number}": version for purpose, number, version in rows}
