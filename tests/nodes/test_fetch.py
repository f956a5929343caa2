"""The node's outbound fetcher: SSRF guard, limits, redirects, caching (SECURITY D1, D5, D7, S7).

Only loopback traffic is ever sent: refusals of other addresses are asserted to happen before any connection,
with a transport that records every request it is asked to send.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from credentials.status import StatusRetrievalError, check_credential_status, status_list_entry
from nodes.fetch import (
    BadResponse,
    DestinationRefused,
    FetchError,
    FetchLimits,
    FetchTimeout,
    ResponseTooLarge,
    SafeFetcher,
)
from tests.nodes.scripted_server import ScriptedServer, answer, chunked, drip, redirect, silent

DID_DOC = {"@context": ["https://www.w3.org/ns/did/v1"], "id": "did:web:school.test"}


class RecordingTransport(httpx.HTTPTransport):
    """httpx's own transport, recording what it is asked to send (so a test can assert: nothing)."""

    def __init__(self) -> None:
        super().__init__(limits=httpx.Limits(max_keepalive_connections=0))
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return super().handle_request(request)


class CountingResolver:
    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def server():
    running = ScriptedServer().start()
    yield running
    running.stop()


def _fetcher(**kwargs) -> tuple[SafeFetcher, RecordingTransport]:
    transport = RecordingTransport()
    return SafeFetcher(transport=transport, **kwargs), transport


# --- where a fetch may go ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/status/1",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/.well-known/did.json",
        "https://[::1]/.well-known/did.json",
        "https://[::ffff:10.0.0.1]/did.json",
        "https://[fe80::1]/did.json",
        "https://0.0.0.0/did.json",
        "https://224.0.0.1/did.json",
        "https://100.64.0.1/did.json",
        "https://2130706433/did.json",
    ],
)
def test_s7_private_link_local_and_loopback_addresses_are_refused_before_any_connection(url):
    fetcher, transport = _fetcher()
    with fetcher, pytest.raises(DestinationRefused):
        fetcher.fetch_json(url)
    assert transport.sent == []


def test_s7_host_resolving_to_a_private_address_is_refused_before_any_connection():
    resolver = CountingResolver(["10.0.0.1"])
    fetcher, transport = _fetcher(resolver=resolver)
    with fetcher, pytest.raises(DestinationRefused, match="public address"):
        fetcher.fetch_json("https://school.example/.well-known/did.json")
    assert transport.sent == [] and resolver.calls == ["school.example"]


def test_s7_a_host_with_one_private_address_among_public_ones_is_refused():
    fetcher, transport = _fetcher(resolver=CountingResolver(["93.184.216.34", "169.254.169.254"]))
    with fetcher, pytest.raises(DestinationRefused):
        fetcher.fetch_json("https://school.example/.well-known/did.json")
    assert transport.sent == []


def test_s7_a_host_that_does_not_resolve_gets_the_same_answer_as_a_private_one():
    def failing(host, port):
        raise OSError("Name or service not known")

    fetcher, transport = _fetcher(resolver=failing)
    with fetcher, pytest.raises(DestinationRefused, match="public address"):
        fetcher.fetch_json("https://intranet.example/did.json")


def test_d7_did_web_over_http_is_refused_outside_dev_mode_before_any_connection():
    resolver = CountingResolver(["93.184.216.34"])
    fetcher, transport = _fetcher(resolver=resolver)
    with fetcher, pytest.raises(DestinationRefused, match="https"):
        fetcher.fetch_json("http://school.example/.well-known/did.json")
    assert transport.sent == [] and resolver.calls == []


def test_d7_dev_mode_allows_http_only_to_loopback():
    fetcher, transport = _fetcher(dev_mode=True, resolver=CountingResolver(["93.184.216.34"]))
    with fetcher, pytest.raises(DestinationRefused, match="loopback"):
        fetcher.fetch_json("http://school.example/.well-known/did.json")
    assert transport.sent == []


def test_dev_mode_still_refuses_private_addresses():
    fetcher, transport = _fetcher(dev_mode=True)
    with fetcher, pytest.raises(DestinationRefused):
        fetcher.fetch_json("https://10.0.0.1/did.json")
    assert transport.sent == []


@pytest.mark.parametrize("url", ["ftp://school.example/did.json", "file:///etc/passwd", "/relative/did.json",
                                 "https://user:pw@school.example/did.json", "not a url at all"])
def test_urls_that_are_not_plain_https_are_refused(url):
    fetcher, transport = _fetcher()
    with fetcher, pytest.raises(DestinationRefused):
        fetcher.fetch_json(url)
    assert transport.sent == []


def test_s7_status_list_at_a_private_address_is_status_retrieval_error():
    fetcher, transport = _fetcher()
    entry = status_list_entry(list_credential="https://169.254.169.254/status/1", index=3, purpose="revocation")
    with fetcher, pytest.raises(StatusRetrievalError, match="public address|link-local"):
        check_credential_status({"issuer": "did:web:school.example", "credentialStatus": entry},
                                retrieve=fetcher, verify_list=lambda _doc: None)
    assert transport.sent == []


# --- fetching from a loopback server (dev mode) ----------------------------------------------------------------


def test_did_document_is_fetched_from_loopback_in_dev_mode(server):
    server.routes["/.well-known/did.json"] = answer(json.dumps(DID_DOC).encode(), "application/did+json")
    with SafeFetcher(dev_mode=True) as fetcher:
        assert fetcher(f"http://localhost:{server.port}/.well-known/did.json") == DID_DOC


def test_the_host_is_resolved_once_and_the_connection_pinned_while_host_header_keeps_the_name(server):
    server.routes["/did.json"] = answer(json.dumps(DID_DOC).encode())
    rebinding = CountingResolver(["127.0.0.1"], ["10.0.0.1"])  # a second answer would point elsewhere
    with SafeFetcher(dev_mode=True, resolver=rebinding) as fetcher:
        assert fetcher(f"http://school.localhost:{server.port}/did.json") == DID_DOC
    assert rebinding.calls == ["school.localhost"]
    assert server.seen[-1].host == f"school.localhost:{server.port}"


def test_s7_redirects_are_not_followed(server):
    server.routes["/status/1"] = redirect("http://169.254.169.254/latest/meta-data/")
    fetcher, transport = _fetcher(dev_mode=True)
    with fetcher, pytest.raises(BadResponse, match="redirect"):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/status/1")
    assert transport.sent == [f"http://127.0.0.1:{server.port}/status/1"]


def test_s7_when_redirects_are_allowed_each_hop_is_checked_again(server):
    server.routes["/status/1"] = redirect("http://10.0.0.1/status/1")
    server.routes["/status/2"] = redirect("/status/3")
    server.routes["/status/3"] = answer(b'{"ok": true}')
    fetcher, transport = _fetcher(dev_mode=True, limits=FetchLimits(max_redirects=2))
    with fetcher:
        with pytest.raises(DestinationRefused):
            fetcher.fetch_json(f"http://127.0.0.1:{server.port}/status/1")
        assert not any("10.0.0.1" in url for url in transport.sent)
        assert fetcher.fetch_json(f"http://127.0.0.1:{server.port}/status/2") == {"ok": True}


def test_d5_did_document_over_256_kb_is_refused_by_its_content_length(server):
    server.routes["/did.json"] = answer(b" " * (256 * 1024) + b"{}")
    with SafeFetcher(dev_mode=True) as fetcher, pytest.raises(ResponseTooLarge):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/did.json")


def test_d5_chunked_answer_is_cut_off_at_the_byte_cap(server):
    server.routes["/did.json"] = chunked(b"[" * (1024 * 1024))
    with SafeFetcher(dev_mode=True) as fetcher, pytest.raises(ResponseTooLarge):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/did.json")


def test_the_byte_cap_is_configurable_per_fetch(server):
    server.routes["/list"] = answer(json.dumps({"pad": "x" * 2000}).encode())
    with SafeFetcher(dev_mode=True) as fetcher:
        with pytest.raises(ResponseTooLarge):
            fetcher.fetch_json(f"http://127.0.0.1:{server.port}/list", max_bytes=1000)
        assert fetcher.fetch_json(f"http://127.0.0.1:{server.port}/list", max_bytes=4000)["pad"]


def test_d5_slow_drip_of_one_byte_a_second_ends_at_the_deadline(server):
    server.routes["/did.json"] = drip(json.dumps(DID_DOC).encode(), interval=1.0)
    limits = FetchLimits(deadline=1.5, read_timeout=1.5)
    started = time.monotonic()
    with SafeFetcher(dev_mode=True, limits=limits) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/did.json")
    assert time.monotonic() - started < 2.5


def test_d5_server_that_never_answers_ends_at_the_deadline(server):
    server.routes["/did.json"] = silent()
    started = time.monotonic()
    with SafeFetcher(dev_mode=True, limits=FetchLimits(deadline=1.0)) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/did.json")
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (answer(b"<html>hello</html>", "text/html"), "not JSON"),
        (answer(b"{}", ""), "not JSON"),
        (answer(b"{not json", "application/json"), "not valid JSON"),
        (answer(b"[1, 2]", "application/did+json"), "not a JSON object"),
        (answer(b'{"n": NaN}', "application/json"), "not valid JSON"),
        (answer(b"[" * 100_000 + b"]" * 100_000, "application/json"), "not valid JSON|larger"),
        (answer(b"{}", "application/json", "500 Internal Server Error"), "HTTP 500"),
        (answer(b"{}", "application/json", extra="Content-Encoding: gzip\r\n"), "compressed"),
    ],
)
def test_d5_an_answer_that_is_not_one_json_object_is_refused(server, handler, reason):
    server.routes["/did.json"] = handler
    with SafeFetcher(dev_mode=True) as fetcher, pytest.raises(FetchError, match=reason):
        fetcher.fetch_json(f"http://127.0.0.1:{server.port}/did.json")


def test_an_unreachable_port_is_a_fetch_error_with_a_readable_reason():
    with SafeFetcher(dev_mode=True) as fetcher, pytest.raises(FetchError, match="could not be reached"):
        fetcher.fetch_json("http://127.0.0.1:1/did.json")


# --- caching ---------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_answers_are_cached_until_their_ttl_expires(server):
    server.routes["/did.json"] = answer(json.dumps(DID_DOC).encode())
    clock = FakeClock()
    url = f"http://127.0.0.1:{server.port}/did.json"
    with SafeFetcher(dev_mode=True, clock=clock, limits=FetchLimits(cache_ttl=60)) as fetcher:
        first = fetcher(url)
        first["id"] = "changed by the caller"
        assert fetcher(url) == DID_DOC, "the cache hands out copies"
        clock.now += 59
        fetcher(url)
        assert len(server.seen) == 1
        clock.now += 2
        fetcher(url)
        assert len(server.seen) == 2


def test_server_max_age_shortens_the_cache_and_no_store_disables_it(server):
    server.routes["/short"] = answer(b"{}", extra="Cache-Control: public, max-age=5\r\n")
    server.routes["/never"] = answer(b"{}", extra="Cache-Control: no-store\r\n")
    clock = FakeClock()
    with SafeFetcher(dev_mode=True, clock=clock) as fetcher:
        for _ in range(2):
            fetcher(f"http://127.0.0.1:{server.port}/short")
            fetcher(f"http://127.0.0.1:{server.port}/never")
        clock.now += 6
        fetcher(f"http://127.0.0.1:{server.port}/short")
    assert [s.path for s in server.seen] == ["/short", "/never", "/never", "/short"]


def test_failures_are_not_cached(server):
    server.routes["/did.json"] = answer(b"{}", status="503 Service Unavailable")
    with SafeFetcher(dev_mode=True) as fetcher:
        for _ in range(2):
            with pytest.raises(BadResponse):
                fetcher(f"http://127.0.0.1:{server.port}/did.json")
    assert len(server.seen) == 2


def test_the_node_closes_its_outbound_client_at_shutdown(make_node):
    import asyncio

    from nodes.app import create_app

    app = create_app(make_node().settings)

    async def run_and_stop():
        async with app.router.lifespan_context(app):  # what uvicorn runs around serving
            fetcher = app.state.node.fetcher  # built on first use, as a verification would
            assert not fetcher._client.is_closed
        return fetcher

    assert asyncio.run(run_and_stop())._client.is_closed
