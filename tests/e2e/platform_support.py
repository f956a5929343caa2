"""Alumni Hub (the demo platform) served for real next to live nodes, and a member's walk through it over HTTP.

The platform is registered at each node as ``./run demo`` does it (the nodes' own client registration) and served
by uvicorn on a free loopback port; it reaches the nodes only over HTTP.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from nodes.credentials_service import ensure_member_credentials
from nodes.examples.platform.app import create_platform_app
from nodes.examples.platform.config import Network, PlatformConfig
from nodes.oidc.clients import ClientRegistration, register_client
from tests.conftest import free_port
from tests.e2e.browsing import HTML, csrf_of
from tests.nodes.oidc_flow import node_context
from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member

INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')


@dataclass
class LivePlatform:
    config: PlatformConfig
    app: Starlette
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def access_tokens(self) -> list[str]:
        """The access tokens the platform holds, server-side, across its sessions (none is ever in a cookie)."""
        sessions = self.app.state.sessions.live()
        return [link["access_token"] for data in sessions for link in data.get("links", {}).values()
                if link.get("access_token")]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def platform_config(networks: dict[str, tuple[str, Any]], port: int) -> PlatformConfig:
    """A platform on ``port`` registered at each live node: ``{key: (display name, live node)}``."""
    base_url = f"http://localhost:{port}"
    registered = []
    for key, (name, live) in networks.items():
        registration = ClientRegistration(name="Alumni Hub", redirect_uris=[f"{base_url}/callback/{key}"],
                                          policy_uri=f"{base_url}/privacy")
        row, secret = register_client(node_context(live), registration, actor="test")
        assert secret is not None
        registered.append(Network(key=key, name=name, issuer=live.url, client_id=row.client_id, client_secret=secret))
    return PlatformConfig(display_name="Alumni Hub", base_url=base_url, networks=tuple(registered),
                          dev_mode=True).check()


def serve_platform(config: PlatformConfig) -> LivePlatform:
    port = int(config.base_url.rsplit(":", 1)[1])
    app = create_platform_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(config.base_url + "/healthz", timeout=1).status_code == 200:
                return LivePlatform(config, app, config.base_url, server, thread)
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the platform did not start")


def start_platform(networks: dict[str, tuple[str, Any]]) -> LivePlatform:
    return serve_platform(platform_config(networks, free_port()))


def sign_in_through_platform(http: httpx.Client, platform: LivePlatform, key: str, email: str,
                             claims: list[str] | None = None) -> httpx.Response:
    """Click "Sign in with <key>", sign in at the node, tick ``claims`` (default: those ticked already), allow.

    ``http`` follows redirects; returns the last response (the platform's page when all went well).
    """
    page = http.get(f"{platform.url}/login/{key}", headers=HTML)
    if "/signin" in str(page.url):
        origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
        form = {"csrf_token": csrf_of(page), "email": email, "password": PASSWORD,
                "next": page.url.params.get("next", "/")}
        page = http.post(f"{origin}/signin", data=form, headers=HTML)
    interaction = INTERACTION.search(page.text)
    if interaction is None:
        return page  # consent remembered: already back on the platform
    ticked = re.findall(r'name="claims" value="([^"]+)" checked', page.text) if claims is None else claims
    origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
    form = {"csrf_token": csrf_of(page), "interaction": interaction.group(1), "decision": "allow", "claims": ticked}
    return http.post(f"{origin}/authorize/consent", data=form, headers=HTML)


def platform_form(http: httpx.Client, platform: LivePlatform, action: str) -> httpx.Response:
    """Post one of the platform's forms (refresh, forget, sign out) with the session's CSRF token."""
    home = http.get(platform.url + "/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token, "the platform page has no form"
    return http.post(platform.url + action, data={"csrf_token": token.group(1)})


def holding_a_credential(school: Any, **member: Any) -> tuple[Any, list[dict[str, Any]]]:
    """A member of ``school`` (Alice unless told otherwise) and their affiliation credentials, issued by the node's
    own issuance."""
    row = seed_member(school.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION], **member)
    credentials = ensure_member_credentials(node_context(school), row.id, actor="test")
    assert credentials
    return row, credentials
