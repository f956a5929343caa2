"""The node's one typed configuration object.

A node reads one TOML file (``passerelle --config FILE`` or ``PASSERELLE_CONFIG``); every key can be overridden by
an environment variable ``PASSERELLE_<KEY>`` (for example ``PASSERELLE_DATABASE_URL``). Unknown keys are errors,
and a wrong or missing setting stops start-up with a message that names it (:class:`ConfigError`).
Every key is documented here, where it is defined; ``docs/configuration.md`` is written from this file.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Language = Literal["fr", "en"]
SUPPORTED_LANGUAGES: tuple[Language, ...] = ("fr", "en")


class ConfigError(Exception):
    """A setting that is missing or wrong; the message names the setting."""


class SmtpSettings(BaseSettings):
    """Outgoing mail. When ``host`` is empty, invitations are written to ``<data_dir>/outbox`` instead."""

    model_config = SettingsConfigDict(extra="forbid")

    host: str = Field(default="", description="SMTP server; empty writes invitations to <data_dir>/outbox.")
    port: int = Field(default=587, description="SMTP port.")
    username: str = Field(default="", description="SMTP user name (optional).")
    password: str = Field(default="", repr=False, description="SMTP password (prefer the environment variable).")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    sender: str = Field(default="passerelle@localhost", description="From address of invitations.")


class NodeSettings(BaseSettings):
    """Settings of one node. See ``nodes/examples/*.toml``."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__", extra="forbid")

    display_name: str = Field(min_length=1, max_length=200, description="Organisation name shown to people.")
    kind: Literal["school", "company"] = Field(description="'school' or 'company': decides roster columns.")
    base_url: str = Field(description="Public origin, e.g. https://alumni.example.edu or http://localhost:8401.")
    languages: list[Language] = Field(
        default_factory=lambda: list(SUPPORTED_LANGUAGES), min_length=1, description="Page languages, first is default."
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means SQLite file <data_dir>/node.db."
    )
    data_dir: Path = Field(description="Folder for the SQLite file, the outbox and other node files.")
    secret_file: Path | None = Field(
        default=None,
        description="File holding the node secret (>= 32 bytes); default <data_dir>/secret. "
        "PASSERELLE_SECRET overrides the file.",
    )
    secret: str = Field(default="", repr=False, description="The node secret itself (prefer secret_file).")
    dev_mode: bool = Field(
        default=False, description="Development mode: allows http:// loopback base URLs and non-Secure cookies."
    )
    run_migrations: bool = Field(default=True, description="Run database migrations when the node starts.")
    invitation_ttl_hours: int = Field(default=168, ge=1, le=24 * 60, description="Claim-link lifetime.")
    session_ttl_hours: int = Field(default=12, ge=1, le=24 * 30, description="Sign-in session lifetime.")
    roster_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Largest roster CSV accepted.")
    request_max_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="Largest request body accepted anywhere but the roster upload (413 above it).",
    )
    database_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60,
        description="How long a request waits for the database (SQLite lock, PostgreSQL connect) before it "
        "answers 503 temporarily_unavailable.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Level of the JSON log lines written to stderr."
    )
    trusted_issuers: list[str] = Field(
        default_factory=list,
        description="DIDs of other organisations whose credentials this node's verifier trusts (besides its own); "
        "until federation trust exists this list is the whole trust policy.",
    )
    status_list_ttl_seconds: int = Field(
        default=300, ge=1, le=7 * 24 * 3600,
        description="How long verifiers may cache a status list (its ttl and Cache-Control max-age); a revocation "
        "is seen by everyone within this delay.",
    )
    housekeeping_interval_seconds: int = Field(
        default=600, ge=1, le=24 * 3600,
        description="How often each serving worker deletes expired tokens, codes and sessions (a day after they "
        "expired; see nodes/housekeeping.py).",
    )
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables win over the TOML file, which arrives as init arguments.
        return (env_settings, init_settings)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as https://alumni.example.edu")
        if parts.query or parts.fragment or parts.username:
            raise ValueError("must not carry a query, fragment or user name")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        # The URL may hold a password: messages describe the problem, never echo the value.
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL (expected sqlite:///PATH or postgresql://...)") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:///PATH and postgresql://... databases are supported")
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise ValueError("an SQLite database needs a file path (sqlite:///PATH); in-memory is not shared")
        return value

    @field_validator("trusted_issuers")
    @classmethod
    def _check_trusted_issuers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.startswith(("did:web:", "did:key:")) or any(c.isspace() for c in item) or len(item) > 2048:
                raise ValueError(f"{item[:80]!r} is not a did:web or did:key identifier")
        return value

    @model_validator(mode="after")
    def _check_http_only_in_dev(self) -> NodeSettings:
        parts = urlsplit(self.base_url)
        if parts.scheme == "http" and not (self.dev_mode and parts.hostname in ("localhost", "127.0.0.1")):
            raise ValueError("base_url: http:// is allowed only for localhost with dev_mode = true")
        return self

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'node.db').resolve()}"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def resolved_secret_file(self) -> Path:
        return self.secret_file or self.data_dir / "secret"

    def node_secret(self) -> bytes:
        """The node secret; it seals private keys and signs nothing else. Refuses a weak secret."""
        raw = self.secret.encode() if self.secret else self._read_secret_file()
        if len(raw) < 32:
            raise ConfigError("secret: the node secret must be at least 32 bytes (run 'passerelle init')")
        return raw

    def _read_secret_file(self) -> bytes:
        path = self.resolved_secret_file
        if not path.exists():
            raise ConfigError(f"secret_file: {path} does not exist (run 'passerelle init')")
        try:
            raw = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"secret_file: {path} cannot be read ({exc.strerror or type(exc).__name__})") from None
        if len(raw) < 32:
            raise ConfigError(f"secret_file: {path} holds fewer than 32 bytes; the node secret must be longer")
        return raw

    def ensure_secret(self) -> None:
        """Create the secret file (mode 0600) if neither it nor ``secret`` exists."""
        path = self.resolved_secret_file
        if self.secret or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))


def _describe(error: Any) -> str:
    """One setting's problem as ``name: message``. Model-level checks already start with the setting's name."""
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {message}" if where else message


def load_settings(path: Path | str | None = None, **overrides: Any) -> NodeSettings:
    """Read the TOML file at ``path`` (or ``$PASSERELLE_CONFIG``), apply environment overrides, validate.

    Relative ``data_dir`` and ``secret_file`` are resolved against the TOML file's folder.
    Raises :class:`ConfigError` naming every wrong setting.
    """
    path = path or os.environ.get("PASSERELLE_CONFIG")
    values: dict[str, Any] = {}
    if path:
        file = Path(path)
        try:
            values = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config: {file} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {file} cannot be read ({type(exc).__name__})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {file} is not valid TOML ({exc})") from None
        for key in ("data_dir", "secret_file"):
            if key in values and not Path(values[key]).is_absolute():
                values[key] = str((file.parent / values[key]).resolve())
    values.update(overrides)
    try:
        return NodeSettings(**values)
    except ValidationError as exc:
        lines = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid node configuration: {lines}") from None


def reference_markdown() -> str:
    """The configuration reference (``docs/configuration.md`` is this text), built from the field definitions."""
    rows = ["| key | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, field in NodeSettings.model_fields.items():
        if name == "smtp":
            continue
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        rows.append(f"| `{name}` | `PASSERELLE_{name.upper()}` | {default} | {field.description or ''} |")
    for name, field in SmtpSettings.model_fields.items():
        default = repr(field.get_default(call_default_factory=True))
        rows.append(f"| `smtp.{name}` | `PASSERELLE_SMTP__{name.upper()}` | {default} | {field.description or ''} |")
    return "\n".join(rows) + "\n"
