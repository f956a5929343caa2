"""Small helpers for end-to-end tests that use the node's HTML forms over real HTTP, as a browser would."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx

HTML = {"Accept": "text/html"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/claim/[A-Za-z0-9_-]+")


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: httpx.Client, email: str, password: str, next: str | None = None) -> httpx.Response:
    """Open the sign-in page, then post the form with its CSRF token. Returns the POST's response."""
    page = client.get("/signin", headers=HTML)
    form = {"csrf_token": csrf_of(page), "email": email, "password": password}
    if next is not None:
        form["next"] = next
    return client.post("/signin", data=form, headers=HTML)


def outbox_messages(data_dir: Path) -> list[EmailMessage]:
    """Every ``.eml`` in the node's outbox, oldest first."""
    files = sorted((data_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in files]  # type: ignore[misc]


def claim_link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = _LINK.search(body.get_content())
    assert found, "no claim link in the message"
    return found.group(0)


def invite(live, member_id: int, clock=None) -> str:  # type: ignore[no-untyped-def]
    """Issue an invitation on ``live``'s node (as the CLI would) and return the link read from the outbox."""
    from nodes.context import NodeContext
    from nodes.invitations import issue_invitations

    node = live.node
    ctx = NodeContext(settings=node.settings, engine=node.engine, secret=node.secret)
    if clock is not None:
        ctx.clock = clock
    issue_invitations(ctx, [member_id])
    return claim_link_in(outbox_messages(node.settings.data_dir)[-1])
