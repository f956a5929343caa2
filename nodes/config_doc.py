"""Write ``docs/configuration.md`` from the settings definitions: ``python -m nodes.config_doc``."""

from __future__ import annotations

from pathlib import Path

from nodes.settings import reference_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
HEADER = """# Configuration

One TOML file per node (`passerelle -c FILE` or `PASSERELLE_CONFIG`); every key can be overridden by its
environment variable, which wins over the file. Unknown keys are errors; a wrong or missing setting stops start-up
with a message naming it. Relative `data_dir` and `secret_file` are relative to the TOML file's folder.
Examples: `nodes/examples/ecole-exemple.toml` (a school) and `nodes/examples/acme.toml` (a company).

This table is generated from `nodes/settings.py` by `python -m nodes.config_doc`; a test keeps it current.

"""


def render() -> str:
    return HEADER + reference_markdown()


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
