"""The request body cap (SECURITY V12): too large a body gets 413 fast, whether declared or streamed."""

from __future__ import annotations

import itertools

from tests.e2e.raw_http import exchange

CAP = 64 * 1024
ROSTER_CAP = 256 * 1024


def port_of(live) -> int:
    return int(live.url.rsplit(":", 1)[1])


def post_head(path: str, length: int | None = None, accept: str = "application/json") -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Accept: {accept}",
             "Content-Type: application/x-www-form-urlencoded"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return "\r\n".join(lines)


def assert_too_large(answer) -> None:
    assert answer.status == 413, answer.body[:300]
    body = answer.json()
    assert body["error"] == "too_large" and str(CAP) in body["error_description"]
    assert answer.headers["x-frame-options"] == "DENY", "the 413 passes through the edge like any answer"
    assert answer.headers["connection"] == "close"


def test_v12_declared_10_mb_body_gets_413_before_a_byte_of_it_is_sent(live_node):
    live = live_node(request_max_bytes=CAP)
    answer = exchange(port_of(live), post_head("/signin", 10 * 1024 * 1024))
    assert_too_large(answer)
    assert answer.sent == 0 and answer.seconds < 2


def test_v12_streamed_body_is_cut_off_once_it_passes_the_cap(live_node):
    live = live_node(request_max_bytes=CAP)
    chunks = itertools.repeat(b"a" * 8192, 10 * 1024 * 1024 // 8192)  # would be 10 MB if nobody stopped it
    answer = exchange(port_of(live), post_head("/signin"), chunks, chunked=True, pace=0.02)
    assert_too_large(answer)
    assert CAP < answer.sent <= CAP + 4 * 8192, "refused as soon as the body passed the cap"
    assert answer.seconds < 5


def test_body_within_the_cap_reaches_the_route(live_node):
    live = live_node(request_max_bytes=CAP)
    body = b"email=a%40b.example&password=" + b"x" * (CAP - 100)
    declared = exchange(port_of(live), post_head("/signin", len(body)), [body])
    streamed = exchange(port_of(live), post_head("/signin"), [body[:CAP // 2], body[CAP // 2:]], chunked=True)
    for answer in (declared, streamed):
        assert answer.status == 403 and answer.json()["error"] == "csrf_failed", "the route ran and checked CSRF"


def test_roster_upload_path_takes_roster_max_bytes_instead_of_the_general_cap(live_node):
    live = live_node(request_max_bytes=CAP, roster_max_bytes=ROSTER_CAP)
    port = port_of(live)
    above_general_cap = exchange(port, post_head("/admin/roster", 2 * CAP), [b"a" * 2 * CAP])
    assert above_general_cap.status != 413, "a roster above the general cap but within its own is not refused"
    too_big = exchange(port, post_head("/admin/roster", 2 * ROSTER_CAP))
    assert too_big.status == 413 and str(ROSTER_CAP) in too_big.json()["error_description"]
    elsewhere = exchange(port, post_head("/admin/rosterx", 2 * CAP))
    assert elsewhere.status == 413, "only the roster path itself gets the larger cap"


def test_browser_gets_a_readable_413_page(live_node):
    live = live_node(request_max_bytes=CAP)
    answer = exchange(port_of(live), post_head("/signin", 10 * 1024 * 1024, accept="text/html") + "\r\n"
                      "Accept-Language: en")
    assert answer.status == 413 and answer.headers["content-type"].startswith("text/html")
    assert b"Something went wrong" in answer.body and b"Traceback" not in answer.body
    assert b"larger than this site accepts" in answer.body


def test_refused_bodies_are_counted_in_the_metrics(live_node):
    live = live_node(request_max_bytes=CAP)
    exchange(port_of(live), post_head("/signin", 10 * 1024 * 1024))
    with live.client() as client:
        text = client.get("/metrics").text
    assert 'passerelle_http_requests_total{method="POST",route="unmatched",status="4xx"} 1.0' in text
