"""The FastAPI adapter of the provider core, after ``authlib/integrations/flask_oauth2``.

:func:`oauth_request` is an async dependency that reads the body once (a form body only, at most
:data:`MAX_FORM_BYTES`) and returns a framework-free :class:`~federation.oidc.http.HttpRequest`; routes then call
the synchronous core from a plain ``def`` (FastAPI runs it in a worker thread, where database calls may block).
:func:`to_response` turns the core's answer into a Starlette response.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from federation.oidc.http import HttpRequest, HttpResponse
from nodes.web.deps import client_address
from nodes.web.errors import ProblemError

MAX_FORM_BYTES = 64 * 1024
FORM = "application/x-www-form-urlencoded"


async def oauth_request(request: Request) -> HttpRequest:
    """The request as the provider core reads it; a POST body must be a URL-encoded form. Its ``peer`` is the
    client's address (:func:`nodes.web.deps.client_address`), which the core counts failed client authentications
    by."""
    form: list[tuple[str, str]] = []
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}
    if request.method == "POST":
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ProblemError(413, "too_large", "The request body is too large.")
        try:
            if body and content_type != FORM:
                raise ValueError("not a form")
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            if any("\x00" in k or "\x00" in v for k, v in form):
                raise ValueError("NUL byte")
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise ProblemError(
                400, "invalid_request", "The body must be an application/x-www-form-urlencoded UTF-8 form."
            ) from exc
    query = request.query_params.multi_items() if request.scope["query_string"] else ()
    return HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        query=[(k, v) for k, v in query if "\x00" not in k + v],
        form=form,
        peer=client_address(request),  # as the sign-in's throttle counts it (behind a proxy: uvicorn's settings)
    )


OAuthRequest = Annotated[HttpRequest, Depends(oauth_request)]


def to_response(answer: HttpResponse) -> Response:
    """A Starlette response from the core's ``(status, body, headers)``."""
    headers = dict(answer.headers)
    if isinstance(answer.body, dict):
        headers.pop("Content-Type", None)
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)
    body = answer.body if isinstance(answer.body, str | bytes) else json.dumps(answer.body)
    return Response(body, status_code=answer.status, headers=headers)


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """A bare OAuth error body (RFC 6749 §5.2), never cached."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
