"""Every roster problem and every admin page string reads in both French and English."""

from __future__ import annotations

import re
from pathlib import Path

from nodes import i18n

NODES = Path(i18n.__file__).parent


CODES = [
    "too_large", "unreadable", "encoding", "empty", "no_rows", "csv", "duplicate_column", "missing_column",
    "cell_count", "nul_byte", "required", "too_long", "control_character", "email", "date", "class_year",
    "end_before_start", "group_too_long", "too_many_groups", "duplicate_row", "duplicate_email",
    "email_other_person", "concurrent",
]


def test_every_roster_problem_has_a_message_in_both_languages():
    source = "".join(m.read_text(encoding="utf-8") for m in (NODES / "roster").glob("*.py"))
    raised = set(re.findall(r'(?:fail\(|RowError\([^()]*?|RosterFileError\([^"]*?|code = |else )"([a-z_]+)"', source))
    assert raised - {"first_line"} <= set(CODES), "a new problem code needs messages (and a place in CODES)"
    for code in CODES:
        assert f'"{code}"' in source
        for lang in ("en", "fr"):
            assert f"roster.error.{code}" in i18n.catalog(lang), (lang, code)


def test_every_key_used_by_the_admin_templates_is_in_both_catalogs():
    used: set[str] = set()
    for template in (NODES / "templates" / "admin").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"""(?<![\w.])t\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", text))
    assert "admin.roster.title" in used
    for lang in ("en", "fr"):
        assert used - set(i18n.catalog(lang)) == set(), lang
