"""The node's outbound JSON fetcher for ``did:web`` DID documents, status list credentials and the sector
identifier documents of OpenID Connect clients.

Everything a credential names is attacker-chosen, so a fetch is bounded on every axis (SECURITY D5, D7, S7):
where it may go (:mod:`nodes.fetch_guard`: https only, public addresses only, resolved once and pinned), how long
it may take (connect/read/write timeouts and a total deadline after which the caller gets :class:`FetchTimeout`
whatever the server does), how much it may read (a byte cap, checked against ``Content-Length`` and while
streaming, with ``Accept-Encoding: identity`` so the cap counts real bytes), and what it accepts (status 200, a
JSON media type, one JSON object, or one array where the caller asks for one). Redirects are refused unless
``max_redirects`` allows them, and then each hop is checked again. Successful answers are cached for a TTL
measured on the monotonic clock.

The node owns one :class:`SafeFetcher` (and so one httpx client) and passes ``fetcher`` (a plain
``url -> dict`` callable) to the pure resolvers in ``credentials``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import httpx

from nodes.fetch_guard import (
    DestinationGuard,
    DestinationRefused,
    FetchError,
    PinnedTransport,
    Resolver,
    system_resolver,
)

__all__ = ["BadResponse", "DestinationRefused", "FetchError", "FetchLimits", "FetchTimeout", "ResponseTooLarge",
           "SafeFetcher"]

JSON_TYPES = frozenset({"application/json", "application/vc", "application/vp"})


class ResponseTooLarge(FetchError):
    """The answer is larger than the byte cap."""

    code = "too_large"


class FetchTimeout(FetchError):
    """The answer did not arrive whole within the deadline."""

    code = "timeout"


class BadResponse(FetchError):
    """The server answered, but not with a JSON object (status, media type, redirect, encoding or syntax)."""

    code = "bad_response"


@dataclass(frozen=True)
class FetchLimits:
    """Bounds of one fetch. Defaults suit DID documents and status lists (SECURITY D5: 256 KB, a few seconds)."""

    max_bytes: int = 256 * 1024
    connect_timeout: float = 2.0
    read_timeout: float = 2.0
    write_timeout: float = 2.0
    deadline: float = 5.0
    cache_ttl: float = 300.0
    cache_entries: int = 1024
    max_redirects: int = 0
    workers: int = 8


class SafeFetcher:
    """Fetches JSON objects (and arrays) over guarded HTTPS, with a TTL cache. Thread-safe; close it when the node
    stops.

    ``dev_mode`` also allows loopback, and plain http to loopback (SECURITY D7). ``resolver`` and ``transport``
    exist for tests; ``transport`` must not keep connections alive (see :class:`PinnedTransport`).
    """

    def __init__(
        self,
        *,
        dev_mode: bool = False,
        limits: FetchLimits | None = None,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.guard = DestinationGuard(dev_mode=dev_mode, resolver=resolver)
        inner = transport or httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0), trust_env=False)
        self._client = httpx.Client(
            transport=PinnedTransport(self.guard, inner),
            follow_redirects=self.limits.max_redirects > 0,
            max_redirects=self.limits.max_redirects,
            timeout=httpx.Timeout(connect=min(self.limits.connect_timeout, self.limits.deadline),
                                  read=min(self.limits.read_timeout, self.limits.deadline),
                                  write=self.limits.write_timeout, pool=self.limits.deadline),
            headers={"Accept": "application/did+json, application/json;q=0.9, application/ld+json;q=0.9",
                     "Accept-Encoding": "identity", "User-Agent": "Passerelle"},
            trust_env=False,
        )
        self._workers = ThreadPoolExecutor(max_workers=self.limits.workers, thread_name_prefix="fetch")
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> dict[str, Any]:
        return self.fetch_json(url)

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def fetch_json(self, url: str, *, max_bytes: int | None = None) -> dict[str, Any]:
        """The JSON object at ``url``, from the cache while fresh. Raises a :class:`FetchError` subclass."""
        document = self._document(url, max_bytes)
        if not isinstance(document, dict):
            raise BadResponse("the answer is not a JSON object")
        return document

    def fetch_json_array(self, url: str, *, max_bytes: int | None = None) -> list[Any]:
        """The JSON array at ``url`` (a client's ``sector_identifier_uri``), as :meth:`fetch_json` fetches."""
        document = self._document(url, max_bytes)
        if not isinstance(document, list):
            raise BadResponse("the answer is not a JSON array")
        return document

    def _document(self, url: str, max_bytes: int | None) -> Any:
        cached = self._cached(url)
        if cached is not None:
            return cached
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise DestinationRefused("not a valid absolute URL") from exc
        self.guard.check_url(parsed)  # refuse by form at once, without using a worker
        future = self._workers.submit(self._fetch, parsed, max_bytes or self.limits.max_bytes)
        try:
            body, ttl = future.result(timeout=self.limits.deadline)
        except FutureTimeout:
            future.cancel()
            raise FetchTimeout(f"no complete answer within {self.limits.deadline:g} s") from None
        document = _parse(body)
        if ttl > 0:
            self._store(url, body, ttl)
        return document

    def _fetch(self, url: httpx.URL, max_bytes: int) -> tuple[bytes, float]:
        started = time.monotonic()  # the deadline is real time, whatever clock the cache uses
        try:
            with self._client.stream("GET", url) as response:
                _check_head(response, max_bytes)
                body = bytearray()
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > max_bytes:
                        raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")
                    if time.monotonic() - started > self.limits.deadline:
                        raise FetchTimeout(f"no complete answer within {self.limits.deadline:g} s")
                return bytes(body), _freshness(response.headers, self.limits.cache_ttl)
        except httpx.TimeoutException as exc:
            raise FetchTimeout("the server was too slow to answer") from exc
        except httpx.TooManyRedirects as exc:
            raise BadResponse("too many redirects") from exc
        except httpx.HTTPError as exc:
            raise FetchError("the server could not be reached") from exc

    def _cached(self, url: str) -> Any:
        """A fresh copy of the cached answer: parsed again from its bytes (callers may change what they get, and
        parsing a few kilobytes of JSON costs less than a deep copy)."""
        with self._lock:
            entry = self._cache.get(url)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._cache[url]
                return None
            body = entry[1]
        return _parse(body)

    def _store(self, url: str, body: bytes, ttl: float) -> None:
        with self._lock:
            self._cache[url] = (self._clock() + ttl, body)
            self._cache.move_to_end(url)
            while len(self._cache) > self.limits.cache_entries:
                self._cache.popitem(last=False)


def _check_head(response: httpx.Response, max_bytes: int) -> None:
    if response.is_redirect:
        raise BadResponse("the server answered with a redirect, which is not followed")
    if response.status_code != 200:
        raise BadResponse(f"the server answered HTTP {response.status_code}")
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not (media.startswith("application/") and media.endswith("+json")):
        raise BadResponse(f"the answer is not JSON (content type {media[:60] or 'missing'})")
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise BadResponse("the answer is compressed although identity encoding was asked for")
    length = response.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_bytes):
        raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadResponse("the answer is not valid JSON") from exc


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _freshness(headers: httpx.Headers, ttl: float) -> float:
    """The cache lifetime: our TTL, shortened by the server's ``max-age``; zero for ``no-store``/``no-cache``."""
    directives = [d.strip().lower() for d in headers.get("cache-control", "").split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.isdigit():
            return min(ttl, float(value))
    return ttl
