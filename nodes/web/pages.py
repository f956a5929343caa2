"""Server-rendered pages (Jinja2) in the visitor's language, with the security headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from nodes import i18n
from nodes.web.sessions import current_session, ensure_session, node_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(TEMPLATES))


def language(request: Request) -> str:
    """The page language: the session's choice, else ``Accept-Language``, else the node's first language."""
    offered = list(node_of(request).settings.languages)
    row = current_session(request)
    if row is not None and row.lang in offered:
        return row.lang
    return i18n.negotiate(request.headers.get("accept-language"), offered)


def _context(request: Request, lang: str, csrf_token: str, member_id: int | None) -> dict[str, Any]:
    node = node_of(request)
    return {
        "request": request,
        "lang": lang,
        "languages": node.settings.languages,
        "t": lambda key, **kw: i18n.translate(lang, key, **kw),
        "csrf_token": csrf_token,
        "node_name": node.settings.display_name,
        "node_kind": node.settings.kind,
        "signed_in": member_id is not None,
        "is_admin": getattr(request.state, "is_admin", False),
    }


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template``; every page gets the CSRF token, the language, ``t()`` and the node's identity."""
    session = ensure_session(request)
    values = _context(request, language(request), session.csrf_token, session.member_id)
    values.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, values, status_code=status_code, headers=headers)


def render_error(
    request: Request, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An error page that never needs the database (it may be the database that failed)."""
    session = getattr(request.state, "web_session", None)
    offered = list(node_of(request).settings.languages)
    lang = session.lang if session is not None and session.lang in offered else i18n.negotiate(
        request.headers.get("accept-language"), offered
    )
    key = f"error.{code}"
    message = i18n.translate(lang, key) if key in i18n.catalog("en") else detail
    values = _context(request, lang, session.csrf_token if session else "", session.member_id if session else None)
    values.update({"status": status, "code": code, "message": message})
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", values, status_code=status, headers=headers)
