"""The member's own page: who the node says they are, and every affiliation on record, in the page language."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from nodes.i18n import translate
from nodes.storage.models import Affiliation
from nodes.web.deps import MemberDep
from nodes.web.pages import language, render
from nodes.web.sessions import node_of

router = APIRouter()


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, member: MemberDep) -> HTMLResponse:
    """Anyone not signed in is sent to ``/signin?next=/me`` (see :func:`nodes.web.deps.require_member`)."""
    with Session(node_of(request).engine) as db:
        rows = list(db.exec(select(Affiliation).where(Affiliation.member_id == member.id)))
    rows.sort(key=_newest_first)
    lang = language(request)
    context = {"member": member, "affiliations": [describe(row, lang) for row in rows]}
    return render(request, "me.html", context, headers={"Cache-Control": "no-store"})


def _newest_first(row: Affiliation) -> tuple[int, int]:
    when = row.class_year or (row.start_date.year if row.start_date else 0)
    return (-when, -(row.id or 0))


def describe(row: Affiliation, lang: str) -> dict[str, Any]:
    """A heading and ``(label, value)`` lines for one affiliation; empty fields are left out."""
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    if row.kind == "company":
        heading = row.role or row.department or t("me.employment")
        lines = [
            (t("me.role"), row.role),
            (t("me.department"), row.department),
            (t("me.period"), _period(row.start_date, row.end_date, lang)),
        ]
    else:
        heading = row.programme or row.degree or t("me.studies")
        lines = [
            (t("me.programme"), row.programme),
            (t("me.degree"), row.degree),
            (t("me.class_year"), str(row.class_year) if row.class_year else None),
            (t("me.groups"), ", ".join(row.groups) if row.groups else None),
        ]
    return {"kind": row.kind, "heading": heading, "lines": [(label, value) for label, value in lines if value]}


def _period(start: date | None, end: date | None, lang: str) -> str | None:
    if start is None and end is None:
        return None
    first = format_date(start, lang) if start else "…"
    last = format_date(end, lang) if end else translate(lang, "me.present")
    return translate(lang, "me.period_value", start=first, end=last)


def format_date(value: date, lang: str) -> str:
    """``1er septembre 2018`` in French, ``1 September 2018`` in English."""
    day = "1er" if lang == "fr" and value.day == 1 else str(value.day)
    return translate(lang, "date.long", day=day, month=translate(lang, f"month.{value.month}"), year=value.year)
