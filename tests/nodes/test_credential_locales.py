"""The credential pages' strings exist in French and English, including the keys the templates build at run time."""

from __future__ import annotations

import re
from pathlib import Path

from credentials.verification_result import CREDENTIAL_CHECKS, PRESENTATION_CHECKS
from nodes import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"
OURS = ["verify.html", "me_credentials.html", "credentials/_checks.html", "admin/credentials.html",
        "admin/credentials_job.html", "admin/credential.html"]


def test_every_literal_key_of_the_credential_templates_is_in_both_catalogs():
    used = set()
    for name in OURS:
        used |= set(re.findall(r"""(?<![\w.])t\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""", (TEMPLATES / name).read_text()))
    assert used and used - set(i18n.catalog("en")) == set() and used - set(i18n.catalog("fr")) == set()


def test_keys_built_at_run_time_exist_in_both_catalogs():
    keys = [f"check.{name}" for name in {*CREDENTIAL_CHECKS, *PRESENTATION_CHECKS}]
    keys += [f"verify.outcome.{o}" for o in ("passed", "failed", "unknown", "skipped")]
    keys += [f"verify.validity.{v}" for v in ("not-yet-valid", "expired")]
    keys += [f"verify.status.{s}" for s in ("revoked", "suspended", "unknown")]
    keys += [f"mycred.state.{s}" for s in ("active", "suspended", "revoked")]
    keys += [f"admin.job.state.{s}" for s in ("queued", "running", "done", "failed", "interrupted")]
    keys += [f"admin.credential.changed.{a}" for a in ("revoke", "suspend", "reinstate")]
    keys += ["verify.result_credential", "verify.result_presentation", "mycred.request.credential",
             "mycred.request.open_badge", "verify.error.empty", "verify.error.too_large", "verify.error.json"]
    for lang in ("en", "fr"):
        assert [k for k in keys if k not in i18n.catalog(lang)] == [], lang
