"""XML Schema ``dateTimeStamp`` values as Data Integrity uses them (``created``, ``expires``).

Data Integrity 1.0 §2.1 asks for an XMLSCHEMA11-2 ``dateTimeStamp``: a date, ``T``, a time and a mandatory
time zone. Python's ``fromisoformat`` accepts much more (a space for ``T``, week dates, no zone), so the shape is
checked first. Proofs we create use whole seconds in UTC with ``Z``, like the W3C test vectors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DATE_TIME_STAMP = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d{2}:\d{2})"
)


def format_timestamp(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SSZ``; a naive datetime is refused (we never guess a time zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: object) -> datetime:
    """Parse a ``dateTimeStamp``; raises ``ValueError`` if ``text`` does not have that exact shape."""
    if not isinstance(text, str) or not _DATE_TIME_STAMP.fullmatch(text):
        raise ValueError("expected an XML Schema dateTimeStamp such as 2024-01-01T00:00:00Z")
    return datetime.fromisoformat(text)
