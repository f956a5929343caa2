"""The node's home page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from nodes.web.pages import render
from nodes.web.redirects import safe_next
from nodes.web.sessions import node_of, set_language

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> RedirectResponse:
    """Remember the chosen language in the session; ``next`` must be a path of this site (SECURITY W3)."""
    if lang in node_of(request).settings.languages:
        set_language(request, lang)
    return RedirectResponse(safe_next(next), status_code=303)
