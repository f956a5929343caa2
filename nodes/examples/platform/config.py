"""Alumni Hub's configuration: who it is, where it runs, and the networks (OpenID providers) it signs people in with.

The TOML file (``nodes/examples/platform.toml``) names the platform and its networks; the client credentials each
network issued to it live apart, one file per network in ``<data_dir>/clients/<key>.json`` (mode 0600), because
they are secrets and because the nodes hand them out at registration. Unknown keys are errors, as in the nodes.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
LOOPBACK = ("localhost", "127.0.0.1", "::1")
TOP_KEYS = {"display_name", "base_url", "data_dir", "dev_mode", "session_ttl_minutes", "networks"}
NETWORK_KEYS = {"key", "name", "issuer"}


class PlatformConfigError(ValueError):
    """A missing or wrong setting of the platform; the message names it."""


@dataclass(frozen=True)
class Network:
    """One OpenID provider (a node) and the client credentials it gave this platform."""

    key: str
    name: str
    issuer: str
    client_id: str = ""
    client_secret: str = field(default="", repr=False)

    @property
    def registered(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class PlatformConfig:
    """Everything :func:`nodes.examples.platform.app.create_platform_app` needs."""

    display_name: str
    base_url: str
    networks: tuple[Network, ...]
    data_dir: Path | None = None
    dev_mode: bool = False
    session_ttl_minutes: int = 480

    def network(self, key: str) -> Network | None:
        return next((n for n in self.networks if n.key == key), None)

    def redirect_uri(self, network: Network) -> str:
        """One redirect URI per network, so an answer can never be taken for another network's (RFC 9700 §4.4)."""
        return f"{self.base_url}/callback/{network.key}"

    def check(self) -> PlatformConfig:
        if not self.display_name.strip():
            raise PlatformConfigError("display_name: must not be empty")
        _check_origin(self.base_url, "base_url", self.dev_mode)
        keys = [n.key for n in self.networks]
        if not keys or len(set(keys)) != len(keys):
            raise PlatformConfigError("networks: at least one, with distinct keys")
        for network in self.networks:
            if not KEY.match(network.key):
                raise PlatformConfigError(f"networks.key: {network.key!r} must be lower-case letters, digits, '-'")
            if not network.name.strip():
                raise PlatformConfigError(f"networks.name of {network.key}: must not be empty")
            _check_origin(network.issuer, f"networks.issuer of {network.key}", self.dev_mode)
        return self


def _check_origin(url: str, what: str, dev_mode: bool) -> None:
    parts = urlsplit(url)
    loopback_http = dev_mode and parts.scheme == "http" and parts.hostname in LOOPBACK
    if not (parts.scheme == "https" or loopback_http) or not parts.hostname:
        raise PlatformConfigError(f"{what}: {url!r} must be an https URL (http only on localhost in dev_mode)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or url.endswith("/"):
        raise PlatformConfigError(f"{what}: {url!r} must be a bare origin without a trailing slash")


def load_platform_config(path: Path, *, base_url: str | None = None, data_dir: Path | None = None,
                         issuers: dict[str, str] | None = None) -> PlatformConfig:
    """Read the TOML file, apply the overrides (``./run demo`` moves ports and data), and read the client files."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PlatformConfigError(f"{path}: {exc}") from exc
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise PlatformConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    networks = []
    for entry in raw.get("networks", []):
        if not isinstance(entry, dict) or set(entry) != NETWORK_KEYS:
            raise PlatformConfigError(f"networks: each entry needs exactly {', '.join(sorted(NETWORK_KEYS))}")
        issuer = (issuers or {}).get(entry["key"], entry["issuer"])
        networks.append(Network(key=str(entry["key"]), name=str(entry["name"]), issuer=str(issuer)))
    folder = data_dir or (path.parent / str(raw.get("data_dir", "platform-data"))).resolve()
    config = PlatformConfig(
        display_name=str(raw.get("display_name", "")), base_url=base_url or str(raw.get("base_url", "")),
        networks=tuple(networks), data_dir=folder, dev_mode=bool(raw.get("dev_mode", False)),
        session_ttl_minutes=int(raw.get("session_ttl_minutes", 480)),
    ).check()
    return with_stored_clients(config)


def client_file(data_dir: Path, key: str) -> Path:
    return data_dir / "clients" / f"{key}.json"


def with_stored_clients(config: PlatformConfig) -> PlatformConfig:
    """The config with each network's stored client id and secret, when they were issued for this very issuer
    and redirect URI (after a port change the old registration is useless and a new one is needed)."""
    if config.data_dir is None:
        return config
    networks = []
    for network in config.networks:
        stored = read_client(config.data_dir, network.key)
        fits = stored is not None and stored.get("issuer") == network.issuer \
            and stored.get("redirect_uri") == config.redirect_uri(network)
        if stored is not None and fits:
            network = replace(network, client_id=str(stored["client_id"]), client_secret=str(stored["client_secret"]))
        networks.append(network)
    return replace(config, networks=tuple(networks))


def read_client(data_dir: Path, key: str) -> dict[str, Any] | None:
    try:
        value = json.loads(client_file(data_dir, key).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) and {"client_id", "client_secret"} <= set(value) else None


def write_client(data_dir: Path, key: str, values: dict[str, str]) -> None:
    """Keep a network's client credentials, readable by the owner only (the secret is shown once by the node)."""
    target = client_file(data_dir, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    os.replace(temporary, target)
