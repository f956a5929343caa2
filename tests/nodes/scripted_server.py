"""A tiny HTTP/1.1 server on 127.0.0.1 whose answers are scripted per path, for the outbound fetcher's tests.

It runs an asyncio loop in a thread so that a handler can misbehave in time (drip one byte a second, never
answer) without blocking the test. Every request's path and ``Host`` header is recorded.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Seen:
    path: str
    host: str


@dataclass
class ScriptedServer:
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    ssl_context: ssl.SSLContext | None = None

    def start(self) -> ScriptedServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def boot() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(boot(), self._loop)
        ready.wait(5)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        host = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("host:")), "")
        self.seen.append(Seen(path, host))
        handler = self.routes.get(path, not_found)
        try:
            await handler(writer)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def answer(body: bytes, content_type: str = "application/json", status: str = "200 OK",
           extra: str = "") -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n{extra}\r\n".encode() + body)

    return handler


def chunked(body: bytes, content_type: str = "application/json", chunk: int = 16384) -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n".encode())
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    return handler


def drip(body: bytes, interval: float = 1.0) -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode())
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)

    return handler


def silent(seconds: float = 30.0) -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(seconds)

    return handler


def redirect(location: str) -> Handler:
    return answer(b"", "text/plain", "302 Found", f"Location: {location}\r\n")


async def not_found(writer: asyncio.StreamWriter) -> None:
    await answer(b"{}", status="404 Not Found")(writer)
