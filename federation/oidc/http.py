"""The HTTP request and response the provider core works on, free of any web framework.

The edge (``nodes/oidc/adapter.py``) reads the body once and builds an :class:`HttpRequest`; the core answers an
:class:`HttpResponse` (status, body, headers), as authlib's own core does. Parameters come from the query string of
a GET and from the form body of a POST, never from both: a token endpoint that also read the query would let a
secret travel in a URL (RFC 6749 §3.2, RFC 6750 §2.3).

A parameter may be sent once (RFC 6749 §3.1, §3.2): :func:`refuse_repeated` answers ``invalid_request`` to a
request that repeats one, before anything reads it, so no part of the provider ever picks one value among several.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request

NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request: method, full URL, lower-cased headers, query and form parameters in order, and the
    address of the client that sent it as the edge knows it (``peer``, ``unknown`` when it knows none).

    Failed client authentications are counted per client *and* address: a client id is public (it is in every
    authorization URL), so a counter of the id alone would let anyone lock the real client out (SECURITY W6).
    """

    method: str
    url: str
    headers: Mapping[str, str]
    query: Sequence[tuple[str, str]] = ()
    form: Sequence[tuple[str, str]] = ()
    peer: str = "unknown"

    @property
    def params(self) -> Sequence[tuple[str, str]]:
        """The OAuth parameters: the form of a POST, the query of anything else."""
        return self.form if self.method == "POST" else self.query


@dataclass
class HttpResponse:
    """What an endpoint answers; ``body`` is a JSON object, a string, or empty."""

    status: int
    body: Any = ""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


#: A parameter name that an error description may quote (OAuth error descriptions are restricted to plain ASCII).
_QUOTABLE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def refuse_repeated(params: Sequence[tuple[str, str]]) -> None:
    """Raise ``invalid_request`` when ``params`` holds a name more than once (RFC 6749 §3.1, §3.2, §5.2).

    Every repeat is refused, including one of a parameter the endpoint does not read: a list of the names that
    matter would fail open the day a parameter is added. The common case costs one set of a handful of names.
    """
    names = {name for name, _ in params}
    if len(names) == len(params):
        return
    seen: set[str] = set()
    for name, _ in params:
        if name in seen:
            quoted = f"'{name}'" if _QUOTABLE.fullmatch(name) else "a parameter"
            raise InvalidRequestError(f"Multiple {quoted} in request.")
        seen.add(name)


class _Params(dict[str, str]):
    """First value of each parameter, as authlib's ``payload.data`` and ``request.form`` expect."""


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Sequence[tuple[str, str]]) -> None:
        self._params = params
        self._data = _Params()
        for key, value in params:
            self._data.setdefault(key, value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        """Every value of each parameter: built on demand, since every endpoint refuses repeated parameters before
        authlib could look (:func:`refuse_repeated`), and no grant this provider uses reads it."""
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._params:
            values[key].append(value)
        return values


class CoreRequest(OAuth2Request):  # type: ignore[misc]
    """authlib's request object over an :class:`HttpRequest` (no framework behind it)."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(method=request.method, uri=request.url, headers=_Headers(request.headers))
        self.http = request
        self.payload = _Payload(request.params)

    @property
    def args(self) -> dict[str, str]:
        return dict(self.http.query)

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data if self.method == "POST" else {}


class _Headers(dict[str, str]):
    """Case-insensitive header lookup (authlib asks for ``Authorization``; the edge gives lower-case names)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())
