"""A verifier resolves a real node's did:web over HTTP through the guarded fetcher (SECURITY D7)."""

from __future__ import annotations

import httpx
import pytest

from credentials.did_resolve import DidNotFoundError, resolve_did_web
from credentials.did_web import did_from_base_url
from nodes import keyring
from nodes.fetch import SafeFetcher


def test_verifier_in_dev_mode_resolves_a_live_node_did_to_its_current_credential_key(live_node):
    school = live_node("school")
    did = did_from_base_url(school.url)
    signing = keyring.current_signing_key(school.node.engine, school.node.secret, "credentials")
    with SafeFetcher(dev_mode=True) as fetcher:
        resolved = resolve_did_web(did, fetcher, http_for_localhost=True)
    method = resolved.method(f"#{signing.kid}")
    assert method.public_key_multibase == signing.public_multikey()
    assert method.id in resolved.assertion_method and method.controller == did


def test_d7_verifier_outside_dev_mode_refuses_a_loopback_did_web_before_connecting(live_node):
    school = live_node("school")
    did = did_from_base_url(school.url)
    transport = RecordingTransport()
    with SafeFetcher(dev_mode=False, transport=transport) as fetcher:
        with pytest.raises(DidNotFoundError, match="must use https"):
            resolve_did_web(did, fetcher, http_for_localhost=True)
        with pytest.raises(DidNotFoundError, match="public address"):
            resolve_did_web(did, fetcher)
    assert transport.sent == []


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(limits=httpx.Limits(max_keepalive_connections=0))
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return super().handle_request(request)
