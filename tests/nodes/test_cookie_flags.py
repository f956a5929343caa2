"""SECURITY W2: the session cookie of a node served over HTTPS, checked on the app in process (ASGI transport)."""

from __future__ import annotations

import asyncio
import re

import httpx

from nodes.app import create_app
from tests.conftest import free_port
from tests.seed import PASSWORD, seed_member

HTML = {"Accept": "text/html"}


def https_node(make_node):
    port = free_port()
    node = make_node(base_url=f"https://localhost:{port}", dev_mode=False)
    return node, create_app(node.settings), f"https://localhost:{port}"


def flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


async def _visit_then_sign_in(app, base_url: str, email: str, password: str) -> tuple[httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
        page = await client.get("/signin", headers=HTML)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = await client.post("/signin", data={"csrf_token": csrf, "email": email, "password": password},
                                   headers=HTML)
    return page, answer


def test_w2_cookie_has_host_prefix_secure_httponly_samesite_lax_and_root_path(make_node):
    node, app, base_url = https_node(make_node)
    seed_member(node.engine, password=PASSWORD)
    page, answer = asyncio.run(_visit_then_sign_in(app, base_url, "alice@ecole.example", PASSWORD))
    assert answer.status_code == 303, "the Secure cookie came back over https: the CSRF check passed"
    for response in (page, answer):  # the anonymous session, then the rotated signed-in one
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-passerelle=")
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags(cookie)
        assert "domain=" not in cookie.lower(), "a __Host- cookie must not name a domain"
    assert page.headers["set-cookie"] != answer.headers["set-cookie"]
    assert "localStorage" not in page.text and "sessionStorage" not in page.text
