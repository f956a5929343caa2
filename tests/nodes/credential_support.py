"""Helpers for the credential tests of a node: its context, seeded members, row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from nodes.context import NodeContext
from nodes.storage.credential_tables import IssuedCredential, StatusList, StatusListBits
from tests.seed import SCHOOL_AFFILIATION, seed_member


def context(node: Any, clock: Any = None) -> NodeContext:
    """The :class:`NodeContext` of a test node (``make_node``'s or ``live_node(...).node``)."""
    ctx = NodeContext(settings=node.settings, engine=node.engine, secret=node.secret)
    if clock is not None:
        ctx.clock = clock
    return ctx


def seed_alumni(node: Any, count: int, prefix: str = "alum") -> list[int]:
    """``count`` members with one school affiliation each; returns the affiliation ids."""
    ids = []
    for number in range(count):
        seed_member(node.engine, email=f"{prefix}{number}@ecole.example", given_name=f"Alum{number}",
                    affiliations=[SCHOOL_AFFILIATION])
    with Session(node.engine) as db:
        from nodes.storage.models import Affiliation

        ids = [int(i) for i in db.exec(select(Affiliation.id).order_by(Affiliation.id))]
    return ids


def issued_count(node: Any) -> int:
    with Session(node.engine) as db:
        return int(db.exec(select(func.count()).select_from(IssuedCredential)).one())


def allocated(node: Any) -> int:
    """The sum of the status lists' allocation counters."""
    with Session(node.engine) as db:
        return int(db.exec(select(func.coalesce(func.sum(StatusList.allocated), 0))).one())


def list_bits(node: Any, purpose: str, number: int = 1) -> StatusListBits:
    with Session(node.engine) as db:
        return db.exec(select(StatusListBits).where(StatusListBits.purpose == purpose,
                                                    StatusListBits.list_number == number)).one()


def rows(node: Any) -> list[IssuedCredential]:
    with Session(node.engine) as db:
        return list(db.exec(select(IssuedCredential)))
