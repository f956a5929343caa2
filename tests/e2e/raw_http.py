"""HTTP/1.1 over a bare socket, for what an HTTP client library will not do: declare a body it never sends, or
stream one until the server interrupts it."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(
    port: int, head: str, chunks: Iterable[bytes] = (), timeout: float = 10, chunked: bool = False,
    pace: float = 0.0,
) -> RawAnswer:
    """Send ``head`` (request line and headers, without the blank line), then ``chunks`` until the server answers.

    With ``chunked`` each piece is framed with chunked transfer coding. ``pace`` is how long to wait for an answer
    before each piece, as a network would pace an upload (without it, loopback buffers swallow megabytes before
    the server reads any). Returns the parsed answer, how long it took from the first byte sent, and how many body
    bytes went out before the server answered.
    """
    started = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")
        finished = True
        for chunk in chunks:
            if select.select([sock], [], [], pace)[0]:
                finished = False
                break  # the server has answered: stop sending, as a well-behaved client does
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
            try:
                sock.sendall(frame)
            except OSError:
                finished = False
                break
            sent += len(chunk)
        if chunked and finished:
            sock.sendall(b"0\r\n\r\n")
        data = _read_answer(sock, started + timeout)
    return _parse(data, time.monotonic() - started, sent)


def _read_answer(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
        if _complete(data):
            break
    return data


def _complete(data: bytes) -> bool:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _parse(data: bytes, seconds: float, sent: int) -> RawAnswer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1.1 "), f"no HTTP answer: {data[:200]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(lines[0].split()[1]), headers, body, seconds, sent)
