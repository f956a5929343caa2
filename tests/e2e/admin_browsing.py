"""Signing in as an organisation administrator over real HTTP, for the admin page tests."""

from __future__ import annotations

import httpx

from nodes.admins import make_admin
from nodes.context import NodeContext
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.seed import PASSWORD

ADMIN_EMAIL = "admin@ecole.example"


def node_context(live) -> NodeContext:  # type: ignore[no-untyped-def]
    node = live.node
    return NodeContext(settings=node.settings, engine=node.engine, secret=node.secret)


def admin_client(live, lang: str = "en") -> tuple[httpx.Client, str]:  # type: ignore[no-untyped-def]
    """A client signed in (through ``/signin``) as a new administrator, and that administrator's public id."""
    result = make_admin(node_context(live), ADMIN_EMAIL, "Grace", "Hopper", PASSWORD)
    client = live.client(headers={"Accept-Language": lang})
    answer = sign_in(client, ADMIN_EMAIL, PASSWORD)
    assert answer.status_code == 303, answer.text
    return client, result.public_id


def form_token(client: httpx.Client, path: str) -> str:
    page = client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    return csrf_of(page)


def upload(client: httpx.Client, content: bytes, token: str | None = None, **fields: str) -> httpx.Response:
    """Post a roster file to ``/admin/roster`` as the upload form does (a fresh CSRF token unless one is given)."""
    data = {"csrf_token": form_token(client, "/admin/roster") if token is None else token, **fields}
    return client.post("/admin/roster", data=data, files={"file": ("roster.csv", content, "text/csv")}, headers=HTML)
