"""A small closed-loop HTTP/1.1 load generator for the benchmarks: N keep-alive connections, each sending its next
request as soon as the previous answer is read, for a fixed time.

Why not httpx: on one core its per-request cost (a few hundred microseconds) would make the client, not the server,
the bottleneck above ~2,000 requests/s. This one writes prepared request bytes on asyncio streams and reads the
answer by its ``Content-Length``; it does what the benchmark needs and nothing more (no chunked bodies, no TLS,
no redirects).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Builds the next request of one connection from the previous answer (``None`` at the start); returns raw bytes.
NextRequest = Callable[[int, "Answer | None"], bytes]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Result:
    """What a run measured: answers per second, latencies and how many answers had an unexpected status."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")

    def describe(self) -> str:
        if not self.latencies:
            return "no answer"
        median = statistics.median(self.latencies)
        failed = f"   unexpected answers: {self.errors}" if self.errors else ""
        return (f"{self.rate:8.0f} /s   median {median * 1000:6.1f} ms   p99 {self.percentile(0.99) * 1000:6.1f} ms"
                f"   n={len(self.latencies)}{failed}")


def request_bytes(method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(int(status_line.split(" ", 2)[1]), headers, body)


async def _connection(port: int, index: int, build: NextRequest, expect: int, deadline: float,
                      result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    previous: Answer | None = None
    try:
        while time.perf_counter() < deadline:
            raw = build(index, previous)
            started = time.perf_counter()
            writer.write(raw)
            previous = await _read_answer(reader)
            if previous.status == expect:
                result.latencies.append(time.perf_counter() - started)
            else:
                result.errors[previous.status] = result.errors.get(previous.status, 0) + 1
            if previous.headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _run(port: int, connections: int, seconds: float, build: NextRequest, expect: int) -> Result:
    started = time.perf_counter()
    result = Result(seconds)
    deadline = started + seconds
    await asyncio.gather(*(_connection(port, i, build, expect, deadline, result) for i in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def closed_loop(port: int, connections: int, seconds: float, build: NextRequest, expect: int = 200) -> Result:
    """Run ``connections`` keep-alive connections for ``seconds``; an answer counts when its status is ``expect``."""
    return asyncio.run(_run(port, connections, seconds, build, expect))
