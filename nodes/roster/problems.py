"""What can be wrong with a roster, with the line it is on, in words an administrator can act on.

A problem carries a message key and its values rather than a sentence, so the CLI prints it in English and the
admin pages in the administrator's language (``roster.error.*`` in ``nodes/locales``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nodes import i18n

SHOWN_VALUE_CHARS = 40


def shown(value: str) -> str:
    """A cell as quoted in a message: cut short, and control characters made visible."""
    text = value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…"
    return repr(text)[1:-1]


@dataclass(frozen=True)
class RowError:
    """One problem, at ``line`` of the file (1 is the header; 0 when it is about the whole file)."""

    line: int
    code: str
    values: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        text = i18n.translate(lang, f"roster.error.{self.code}", **self.values)
        if self.line <= 0:
            return text
        return i18n.translate(lang, "roster.line", line=self.line, message=text)

    def __str__(self) -> str:
        return self.message("en")


class RosterFileError(Exception):
    """The file as a whole is refused (too large, not UTF-8, a missing column): no row of it can be imported."""

    def __init__(self, line: int, code: str, **values: Any) -> None:
        self.error = RowError(line, code, values)
        super().__init__(str(self.error))
