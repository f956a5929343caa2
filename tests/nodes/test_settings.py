"""Start-up configuration: every wrong or missing setting stops the node with a message that names it.

The same messages reach an operator through ``passerelle serve``: one readable line on stderr, exit status 2,
no traceback and no secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.app import create_app
from nodes.settings import ConfigError, load_settings

VALID = {
    "display_name": '"École Test"',
    "kind": '"school"',
    "base_url": '"http://localhost:8401"',
    "dev_mode": "true",
    "data_dir": '"data"',
}


def write_config(folder: Path, drop: tuple[str, ...] = (), **values: str) -> Path:
    """A TOML file with the valid settings, minus ``drop``, plus ``values`` (raw TOML right-hand sides)."""
    lines = [f"{key} = {value}" for key, value in {**VALID, **values}.items() if key not in drop]
    path = folder / "node.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_inherited_overrides(monkeypatch):
    """The developer's own PASSERELLE_* variables must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("PASSERELLE_") and not name.startswith("PASSERELLE_TEST_"):
            monkeypatch.delenv(name)


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_valid_configuration_loads_and_resolves_data_dir_against_the_file(tmp_path):
    settings = load_settings(write_config(tmp_path))
    assert settings.display_name == "École Test"
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert settings.request_max_bytes == 1024 * 1024


def test_missing_display_name_stops_start_up_naming_it(tmp_path):
    assert "display_name: Field required" in refused(write_config(tmp_path, drop=("display_name",)))


def test_empty_display_name_is_refused_naming_it(tmp_path):
    assert "display_name:" in refused(write_config(tmp_path, display_name='""'))


def test_kind_bank_is_refused_naming_kind_and_the_choices(tmp_path):
    message = refused(write_config(tmp_path, kind='"bank"'))
    assert "kind: Input should be 'school' or 'company'" in message
    assert "bank" not in message.split("kind:")[0]


def test_plain_http_base_url_outside_dev_mode_is_refused_naming_base_url(tmp_path):
    message = refused(write_config(tmp_path, base_url='"http://example.org"', dev_mode="false"))
    assert message.startswith("invalid node configuration: base_url: http:// is allowed only for localhost")
    assert "Value error" not in message and "(file)" not in message


def test_plain_http_base_url_is_refused_for_a_public_host_even_in_dev_mode(tmp_path):
    assert "base_url: http:// is allowed only" in refused(write_config(tmp_path, base_url='"http://example.org"'))


def test_base_url_with_a_query_is_refused_naming_base_url(tmp_path):
    assert "base_url: Value error" not in refused(write_config(tmp_path, base_url='"https://a.example/?x=1"'))
    assert "base_url: must not carry a query" in refused(write_config(tmp_path, base_url='"https://a.example/?x=1"'))


def test_unknown_key_is_refused_naming_it(tmp_path):
    assert "databse_url: Extra inputs are not permitted" in refused(
        write_config(tmp_path, databse_url='"sqlite:///x.db"')
    )


def test_unknown_language_is_refused_naming_the_entry(tmp_path):
    assert "languages.1: Input should be 'fr' or 'en'" in refused(write_config(tmp_path, languages='["fr", "de"]'))


def test_every_wrong_setting_is_named_in_one_message(tmp_path):
    message = refused(write_config(tmp_path, drop=("display_name",), kind='"bank"', colour='"blue"'))
    assert all(name in message for name in ("display_name:", "kind:", "colour:"))
    assert "\n" not in message


def test_bad_toml_is_refused_naming_the_file_and_the_line(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text('display_name = "École"\nkind = school\n', encoding="utf-8")
    message = refused(path)
    assert message.startswith(f"config: {path} is not valid TOML") and "line 2" in message


def test_missing_config_file_is_refused_naming_it(tmp_path):
    assert refused(tmp_path / "absent.toml") == f"config: {tmp_path / 'absent.toml'} does not exist"


def test_unsupported_database_url_is_refused_without_echoing_its_password(tmp_path):
    message = refused(write_config(tmp_path, database_url='"mysql://root:hunter2-secret@db/alumni"'))
    assert "database_url: only sqlite:///PATH and postgresql://... databases are supported" in message
    assert "hunter2" not in message


def test_in_memory_sqlite_is_refused_because_workers_would_not_share_it(tmp_path):
    assert "database_url: an SQLite database needs a file path" in refused(
        write_config(tmp_path, database_url='"sqlite://"')
    )


def test_missing_secret_file_names_secret_file(tmp_path):
    settings = load_settings(write_config(tmp_path))
    with pytest.raises(ConfigError, match=r"^secret_file: .*secret does not exist \(run 'passerelle init'\)$"):
        settings.node_secret()


def test_short_secret_file_names_secret_file(tmp_path):
    (tmp_path / "short").write_text("too-short\n", encoding="utf-8")
    settings = load_settings(write_config(tmp_path, secret_file='"short"'))
    with pytest.raises(ConfigError, match=r"^secret_file: .*short holds fewer than 32 bytes"):
        settings.node_secret()


def test_short_secret_from_the_environment_names_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSERELLE_SECRET", "only-16-bytes-xx")
    settings = load_settings(write_config(tmp_path))
    with pytest.raises(ConfigError) as caught:
        settings.node_secret()
    assert str(caught.value).startswith("secret: the node secret must be at least 32 bytes")
    assert "only-16-bytes" not in str(caught.value)


def test_node_with_a_missing_secret_does_not_start_nor_create_its_database(tmp_path):
    settings = load_settings(write_config(tmp_path))
    with pytest.raises(ConfigError, match="^secret_file:"):
        create_app(settings)
    assert not (tmp_path / "data" / "node.db").exists()


def test_environment_variables_win_over_the_toml_file(tmp_path, monkeypatch):
    database = tmp_path / "elsewhere.db"
    monkeypatch.setenv("PASSERELLE_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("PASSERELLE_DISPLAY_NAME", "Name From The Environment")
    settings = load_settings(write_config(tmp_path, database_url='"sqlite:///from-toml.db"'))
    assert settings.database_url == f"sqlite:///{database}"
    assert settings.resolved_database_url == f"sqlite:///{database}"
    assert settings.display_name == "Name From The Environment"
    assert settings.kind == "school", "keys without a variable keep the file's value"


def test_nested_smtp_setting_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSERELLE_SMTP__HOST", "mail.example.org")
    settings = load_settings(write_config(tmp_path))
    assert settings.smtp.host == "mail.example.org" and settings.smtp.port == 587


def test_wrong_value_in_an_environment_variable_is_named_like_a_file_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSERELLE_KIND", "bank")
    assert "kind: Input should be 'school' or 'company'" in refused(write_config(tmp_path))


def test_config_path_can_come_from_passerelle_config(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSERELLE_CONFIG", str(write_config(tmp_path)))
    assert load_settings().display_name == "École Test"


# --- the operator's view: `passerelle serve` -----------------------------------------------------------------


def passerelle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    return subprocess.run(
        [sys.executable, "-c", "from nodes.cli import main; main()", *args],
        capture_output=True, text=True, timeout=60, env={**clean, "COLUMNS": "60", **(env or {})},
    )


def assert_one_readable_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr and "File \"" not in result.stderr
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize(
    ("values", "drop", "expected"),
    [
        ({"kind": '"bank"'}, (), ("kind: Input should be 'school' or 'company'",)),
        ({}, ("display_name",), ("display_name: Field required",)),
        ({"base_url": '"http://example.org"', "dev_mode": "false"}, (), ("base_url: http:// is allowed only",)),
        ({"colour": '"blue"', "languages": '["fr", "de"]'}, (), ("colour: Extra inputs", "languages.1:")),
    ],
    ids=["kind-bank", "missing-display-name", "http-without-dev-mode", "unknown-key-and-language"],
)
def test_serve_with_a_bad_config_exits_2_with_one_readable_line(tmp_path, values, drop, expected):
    config = write_config(tmp_path, drop=drop, **values)
    assert_one_readable_line(passerelle("--config", str(config), "serve"), *expected)


def test_serve_with_invalid_toml_exits_2_with_one_readable_line(tmp_path):
    config = tmp_path / "node.toml"
    config.write_text("kind = [\n", encoding="utf-8")
    assert_one_readable_line(passerelle("--config", str(config), "serve"), "is not valid TOML")


def test_serve_without_a_secret_exits_2_naming_secret_file(tmp_path):
    result = passerelle("--config", str(write_config(tmp_path)), "serve")
    assert_one_readable_line(result, "secret_file:", "does not exist")


def test_serve_with_a_short_secret_exits_2_without_printing_it(tmp_path):
    result = passerelle("--config", str(write_config(tmp_path)), "serve", env={"PASSERELLE_SECRET": "tiny-secret-x"})
    assert_one_readable_line(result, "secret: the node secret must be at least 32 bytes")
    assert "tiny-secret-x" not in result.stderr


def test_serve_with_an_unreachable_database_exits_2_naming_database_url_without_its_password(tmp_path):
    url = "postgresql://passerelle:pw-not-shown@127.0.0.1:9/alumni"
    secret = "s" * 40
    result = passerelle(
        "--config", str(write_config(tmp_path)), "serve",
        env={"PASSERELLE_DATABASE_URL": url, "PASSERELLE_SECRET": secret, "PASSERELLE_DATABASE_TIMEOUT_SECONDS": "2"},
    )
    assert_one_readable_line(result, "database_url: the database cannot be used")
    assert "pw-not-shown" not in result.stderr and secret not in result.stderr
