"""``./run demo``'s part for Alumni Hub: register it at each example node, then build its app.

The registration goes through the nodes' own client registration (:func:`nodes.oidc.clients.register_client`, what
``passerelle clients add`` and the admin page call). The client id and the secret, shown once by the node, are
kept in ``<platform data_dir>/clients/<network>.json`` (0600), so later starts reuse the same client; a new
registration is made only when the node no longer knows that client (its data was wiped) or the redirect URI
moved (another port).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette

from nodes.context import NodeContext
from nodes.examples.platform.app import create_platform_app
from nodes.examples.platform.config import Network, PlatformConfig, load_platform_config, write_client
from nodes.oidc.clients import ClientRegistration, list_clients, register_client
from nodes.settings import NodeSettings
from nodes.storage.db import make_engine

CONFIG = Path(__file__).parent.parent / "platform.toml"


def prepare_platform(nodes: Mapping[str, NodeSettings], data_root: Path | None = None,
                     port: int | None = None) -> tuple[PlatformConfig, Starlette]:
    """Load ``platform.toml`` (issuers taken from the running ``nodes``, keyed like the networks), make sure the
    platform is a registered client of each, and build its app."""
    config = load_platform_config(
        CONFIG, base_url=f"http://localhost:{port}" if port else None,
        data_dir=data_root / "platform" if data_root else None,
        issuers={key: settings.base_url for key, settings in nodes.items()},
    )
    assert config.data_dir is not None
    config.data_dir.mkdir(parents=True, exist_ok=True)
    networks = []
    for network in config.networks:
        settings = nodes.get(network.key)
        networks.append(ensure_registered(config, network, settings) if settings is not None else network)
    config = replace(config, networks=tuple(networks))
    return config, create_platform_app(config)


def ensure_registered(config: PlatformConfig, network: Network, settings: NodeSettings) -> Network:
    """The network with live client credentials for this platform, registering it at the node if needed."""
    assert config.data_dir is not None
    engine = make_engine(settings.resolved_database_url)
    node = NodeContext(settings=settings, engine=engine, secret=settings.node_secret())
    try:
        redirect_uri = config.redirect_uri(network)
        if network.registered and _still_registered(node, network.client_id, redirect_uri):
            return network
        registration = ClientRegistration(
            name=config.display_name, redirect_uris=[redirect_uri], policy_uri=f"{config.base_url}/privacy",
            post_logout_redirect_uris=[f"{config.base_url}/"],
        )
        row, secret = register_client(node, registration, actor="demo")
    finally:
        engine.dispose()
    assert secret is not None
    write_client(config.data_dir, network.key, {"issuer": network.issuer, "redirect_uri": redirect_uri,
                                                "client_id": row.client_id, "client_secret": secret})
    return replace(network, client_id=row.client_id, client_secret=secret)


def _still_registered(node: NodeContext, client_id: str, redirect_uri: str) -> bool:
    return any(row.client_id == client_id and row.disabled_at is None and row.redirect_uris == [redirect_uri]
               for row in list_clients(node))
