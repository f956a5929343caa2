"""Alumni Hub's two catalogs say the same things, and every key the platform's code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from nodes.examples.platform import texts

PLATFORM = Path(texts.__file__).parent


def test_both_catalogs_hold_the_same_keys_with_the_same_placeholders():
    english, french = texts.catalog("en"), texts.catalog("fr")
    assert english.keys() == french.keys()
    for key, text in english.items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", french[key])), key


def test_every_message_key_in_the_code_and_templates_is_in_the_catalog():
    used = set()
    for path in [*PLATFORM.glob("*.py"), *PLATFORM.glob("templates/*.html")]:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:Message|SignInFailed|t)\(\s*"([a-z_]+\.[a-z_]+)"', source))
    assert used and used <= set(texts.catalog("en")), used - set(texts.catalog("en"))
