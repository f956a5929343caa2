"""Helpers for OpenID Connect provider tests: register a platform, sign a member in, walk the code flow over HTTP.

Everything goes through the node's real endpoints (``/signin``, ``/authorize``, the consent form, ``/token``);
only the platform's registration is done as the CLI does it, by calling the registration function.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from nodes.context import NodeContext
from nodes.oidc.clients import ClientRegistration, register_client
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member

REDIRECT = "https://platform.example/cb"
#: Where the tests' requests come from: :meth:`LiveNode.client` connects from 127.0.0.1; another address of
#: 127.0.0.0/8 (Linux routes all of it to the loopback interface) is another client as far as the node can tell.
PLATFORM_ADDRESS = "127.0.0.1"
OTHER_ADDRESS = "127.0.0.2"
_INTERACTION = re.compile(r'name="interaction" value="([^"]+)"')


@dataclass
class Platform:
    client_id: str
    secret: str | None
    redirect_uri: str
    auth_method: str


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def node_context(live: Any) -> NodeContext:
    node = live.node
    return NodeContext(settings=node.settings, engine=node.engine, secret=node.secret)


def register(live: Any, redirect_uris: list[str] | None = None, **options: Any) -> Platform:
    reg = ClientRegistration(name=options.pop("name", "Alumni Hub"), redirect_uris=redirect_uris or [REDIRECT],
                             **options)
    row, secret = register_client(node_context(live), reg, actor="test")
    return Platform(row.client_id, secret, row.redirect_uris[0], row.auth_method)


def member_with_password(live: Any, email: str = "alice@ecole.example", **kwargs: Any) -> Any:
    return seed_member(live.node.engine, email=email, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION], **kwargs)


def browser(live: Any, email: str | None = None) -> httpx.Client:
    """A cookie-keeping client; signed in as ``email`` (password :data:`PASSWORD`) when given."""
    client = live.client(follow_redirects=False)
    if email is not None:
        response = sign_in(client, email, PASSWORD)
        assert response.status_code == 303, response.text
    return client


def auth_params(platform: Platform, pkce: Pkce | None = None, scope: str = "openid", **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": platform.client_id, "redirect_uri": platform.redirect_uri,
              "scope": scope, "state": secrets.token_urlsafe(8)}
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def continued_to(page: httpx.Response) -> str:
    """Where the "continue to the platform" page (shown after a sign-in form) sends the browser."""
    import html

    found = re.search(r'<a href="([^"]+)" id="continue">', page.text)
    assert page.status_code == 200 and found, page.text
    return html.unescape(found.group(1))


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def consent(client: httpx.Client, page: httpx.Response, claims: list[str], decision: str = "allow") -> httpx.Response:
    """Answer the consent page ``page`` with the ``claims`` ticked."""
    assert page.status_code == 200, page.text
    interaction = _INTERACTION.search(page.text)
    assert interaction, "not a consent page"
    form: dict[str, Any] = {"csrf_token": csrf_of(page), "interaction": interaction.group(1), "decision": decision,
                            "claims": list(claims)}
    return client.post("/authorize/consent", data=form, headers=HTML)


def authorize(client: httpx.Client, params: dict[str, str], claims: list[str] | None = None) -> httpx.Response:
    """GET /authorize; when the consent page shows, tick ``claims`` and allow. Returns the redirect to the client."""
    response = client.get("/authorize", params=params, headers=HTML)
    if response.status_code == 200 and 'name="interaction"' in response.text:
        response = consent(client, response, claims or [])
    return response


def code_for(client: httpx.Client, platform: Platform, pkce: Pkce, scope: str = "openid",
             claims: list[str] | None = None, **extra: str) -> str:
    response = authorize(client, auth_params(platform, pkce, scope, **extra), claims)
    assert response.status_code == 302, response.text
    query = query_of(response.headers["location"])
    assert "code" in query, query
    return query["code"]


def http_from(live: Any, address: str = PLATFORM_ADDRESS) -> httpx.Client:
    """A client of the node whose connections come from ``address`` (a loopback address), which the node sees as
    the request's peer."""
    return live.client(transport=httpx.HTTPTransport(local_address=address))


def token_request(live: Any, platform: Platform, data: dict[str, str], auth: str | None = None,
                  address: str = PLATFORM_ADDRESS) -> httpx.Response:
    """POST /token from ``address``, authenticating as the platform registered (or as ``auth`` says: basic, post,
    none)."""
    method = auth or {"client_secret_basic": "basic", "client_secret_post": "post"}.get(platform.auth_method, "none")
    body = dict(data)
    kwargs: dict[str, Any] = {}
    if method == "basic":
        kwargs["auth"] = (platform.client_id, platform.secret or "")
    elif method == "post":
        body.update(client_id=platform.client_id, client_secret=platform.secret or "")
    else:
        body["client_id"] = platform.client_id
    with http_from(live, address) as http:
        return http.post("/token", data=body, **kwargs)


def post_pairs(live: Any, path: str, pairs: list[tuple[str, str]], **kwargs: Any) -> httpx.Response:
    """POST ``pairs`` as a form body, in order and repeats kept (``data=`` takes one value per name)."""
    with live.client() as http:
        return http.post(path, content=urlencode(pairs), headers={"Content-Type": "application/x-www-form-urlencoded"},
                         **kwargs)


def refresh(live: Any, platform: Platform, token: str, **extra: str) -> httpx.Response:
    """A refresh grant of ``token``, the platform authenticating as it registered."""
    return token_request(live, platform, {"grant_type": "refresh_token", "refresh_token": token, **extra})


def redeem(live: Any, platform: Platform, code: str, pkce: Pkce, **extra: Any) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": platform.redirect_uri,
            "code_verifier": pkce.verifier}
    return token_request(live, platform, data, **extra)


def tokens_for(live: Any, client: httpx.Client, platform: Platform, scope: str = "openid",
               claims: list[str] | None = None, **extra: str) -> dict[str, Any]:
    """The whole code flow for a signed-in browser: returns the token response."""
    pkce = Pkce()
    code = code_for(client, platform, pkce, scope, claims, **extra)
    response = redeem(live, platform, code, pkce)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def lock_out(live: Any, platform: Platform, data: dict[str, str], address: str = PLATFORM_ADDRESS) -> None:
    """Ten token requests of ``data`` from ``address`` with a wrong secret (401 each): the eleventh finds the client
    locked out there."""
    wrong = Platform(platform.client_id, "nope", platform.redirect_uri, platform.auth_method)
    statuses = [token_request(live, wrong, data, address=address).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def disconnect(browser: httpx.Client, platform: Platform) -> httpx.Response:
    """The member disconnects the platform from their "Connected platforms" page."""
    page = browser.get("/me/platforms", headers=HTML)
    return browser.post(f"/me/platforms/{platform.client_id}/revoke", data={"csrf_token": csrf_of(page)},
                        headers=HTML)


def userinfo(live: Any, access_token: str) -> httpx.Response:
    with live.client() as http:
        return http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def failures(live: Any, platform: Platform, address: str) -> int:
    """The failed authentications of ``platform`` from ``address`` the node counts (0: none)."""
    from sqlmodel import Session

    from nodes.oidc.store import client_throttle_key
    from nodes.storage.models import LoginThrottle

    with Session(live.node.engine) as db:
        row = db.get(LoginThrottle, client_throttle_key(platform.client_id, address))
        return row.failures if row is not None else 0


def count(live: Any, table: Any) -> int:
    """How many rows ``table`` holds on the node (to prove that nothing was stored); ``live`` is a live node or a
    ``make_node`` node."""
    from sqlmodel import Session, func, select

    with Session(getattr(live, "node", live).engine) as db:
        return int(db.exec(select(func.count()).select_from(table)).one())
