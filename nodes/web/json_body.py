"""Reading JSON request bodies for the VC-API without letting a document cost more than it should (SECURITY V12).

The body cap is enforced before (:mod:`nodes.web.limits`: 413). Here the parse itself is bounded: nesting deeper
than :data:`MAX_DEPTH` or more than :data:`MAX_VALUES` values in all is refused with 400 before any JSON-LD or
signature work, and so are duplicate object keys (two parsers could read different values), ``NaN``/``Infinity``
and anything that is not JSON. Python's parser stops deep nesting itself (``RecursionError``) after about a
thousand levels, so a 10,000-level document is refused in microseconds.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from nodes.web.errors import ProblemError

MAX_DEPTH = 64
MAX_VALUES = 20_000
JSON_MEDIA_TYPES = ("application/json", "application/ld+json", "application/vc", "application/vp")


def parse_json(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> Any:
    """Parse ``text`` and check its size; raises :class:`ProblemError` (400) with the reason."""
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise _bad("the JSON document nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"the body is not valid JSON ({_brief(exc)})") from None
    check_shape(value, max_depth=max_depth, max_values=max_values)
    return value


def check_shape(value: Any, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> None:
    """Refuse a document nested deeper than ``max_depth`` or with more than ``max_values`` values (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 1
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list) or not item:
            continue
        if depth >= max_depth:  # its children would be one level too deep
            raise _bad(f"the JSON document nests deeper than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        count += len(children)  # counted before they are walked: a 100,000-item array is refused at once
        if count > max_values:
            raise _bad(f"the JSON document has more than {max_values} values")
        stack.extend((child, depth + 1) for child in children)


async def read_json(request: Request) -> Any:
    """The request's JSON body; 415 for another media type, 400 for a body that is not acceptable JSON."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in JSON_MEDIA_TYPES and not (media.startswith("application/") and media.endswith("+json")):
        raise ProblemError(415, "unsupported_media_type", "send the document as application/json")
    return parse_json(await request.body())


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # built in C; only an object with a duplicate key is walked again, to name it
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key[:40]!r}")
            seen.add(key)
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _brief(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]


def _bad(detail: str) -> ProblemError:
    return ProblemError(400, "PARSING_ERROR", detail)
