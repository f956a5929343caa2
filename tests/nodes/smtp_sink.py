"""A minimal SMTP server on loopback that keeps what it receives: enough of RFC 5321 for smtplib's client."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    messages: list[bytes]
    offer_starttls: bool


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        lines: list[bytes] | None = None
        while line := self.rfile.readline():
            if lines is not None:
                if line == b".\r\n":
                    self.server.messages.append(b"".join(lines))
                    lines = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                extra = b"250-STARTTLS\r\n" if self.server.offer_starttls else b""
                self.wfile.write(b"250-sink\r\n" + extra + b"250 8BITMIME\r\n")
            elif verb == b"DATA":
                lines = []
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def smtp_sink(offer_starttls: bool = False) -> Iterator[_Server]:
    """A running sink; ``server.server_address[1]`` is its port and ``server.messages`` what it received."""
    server = _Server(("127.0.0.1", 0), _Session)
    server.messages = []
    server.offer_starttls = offer_starttls
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
