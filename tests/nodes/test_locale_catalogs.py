"""Every page string exists in both languages, and every message key a page uses is in the catalogs."""

from __future__ import annotations

import re
from pathlib import Path

from nodes import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_french_and_english_catalogs_hold_the_same_keys():
    assert set(i18n.catalog("fr")) == set(i18n.catalog("en"))


def test_every_literal_key_used_by_a_template_is_in_the_catalogs():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""t\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", template.read_text(encoding="utf-8")))
    assert used - set(i18n.catalog("en")) == set()
    assert used - set(i18n.catalog("fr")) == set()


def test_claim_refusal_and_password_messages_exist_in_both_languages():
    keys = [f"claim.{state}" for state in ("unknown", "used", "expired")]
    keys += ["password.too_short", "password.too_long", "password.invalid"]
    for lang in ("fr", "en"):
        assert all(key in i18n.catalog(lang) for key in keys)
