"""Alumni Hub's web app: ``create_platform_app(config)`` builds it; no import-time state.

Pages: the home page (the networks you signed in with, what each told the platform, the credentials it verified),
``/login/{network}`` and ``/callback/{network}`` (the code flow, in :mod:`.relying_party`), and three small forms
(refresh my data, forget a network, sign out) protected by a per-session CSRF token. One platform session can hold
several networks: sign in with the school, then with the company, and both stay linked.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from credentials.jsonld_loader import JsonLdLoader
from nodes.examples.platform.config import Network, PlatformConfig
from nodes.examples.platform.credential_check import holder_name, same_origin_fetcher, verify_received
from nodes.examples.platform.relying_party import (
    SignIn,
    SignInFailed,
    build_oauth,
    fetch_userinfo,
    finish_sign_in,
    start_sign_in,
)
from nodes.examples.platform.sessions import ServerSessionMiddleware, SessionStore, drop_session, rotate_session
from nodes.examples.platform.texts import LANGUAGES, Message, language, translate, translator

HERE = Path(__file__).parent
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
AFFILIATION_FIELDS = ("programme", "degree", "class_year", "groups", "role", "department", "start_date", "end_date")


def create_platform_app(config: PlatformConfig) -> Starlette:
    """Build Alumni Hub for ``config`` (networks without client credentials are shown as unavailable)."""
    hub = _Hub(config)
    routes = [
        Route("/", hub.home), Route("/privacy", hub.privacy), Route("/healthz", hub.healthz),
        Route("/lang/{lang}", hub.choose_language),
        Route("/login/{key}", hub.login), Route("/callback/{key}", hub.callback),
        Route("/refresh/{key}", hub.refresh, methods=["POST"]), Route("/forget/{key}", hub.forget, methods=["POST"]),
        Route("/signout", hub.signout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    store = SessionStore(config.session_ttl_minutes * 60.0)
    app.add_middleware(ServerSessionMiddleware, store=store, secure=config.base_url.startswith("https://"))

    app.add_middleware(SecurityHeadersMiddleware)
    app.state.hub = hub
    app.state.sessions = store
    return app


class SecurityHeadersMiddleware:
    """Adds :data:`HEADERS` to every answer that does not set them itself (no framing, no caching, own origin)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class _Hub:
    """The platform's handlers, over its config, its authlib registry and its JSON-LD loader."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.oauth = build_oauth(config)
        self.loader = JsonLdLoader()
        self.templates = Jinja2Templates(directory=HERE / "templates")

    # --- pages ---------------------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        links = request.session.get("links", {})
        notice = request.session.pop("notice", None)
        return self._page(request, "home.html", {"links": links, "notice": notice})

    async def privacy(self, request: Request) -> Response:
        return self._page(request, "privacy.html", {})

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def choose_language(self, request: Request) -> Response:
        """Remember the visitor's language for the session (an unknown code changes nothing)."""
        if request.path_params["lang"] in LANGUAGES:
            request.session["lang"] = request.path_params["lang"]
        return RedirectResponse("/", status_code=303)

    def _page(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        session = request.session
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        lang = language(request)
        context = {"config": self.config, "networks": self.config.networks, "csrf": session["csrf"],
                   "fields": AFFILIATION_FIELDS, "lang": lang, "t": translator(lang),
                   "languages": {code: translate(code, "lang.name") for code in LANGUAGES},
                   "platform": self.config.display_name, **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def _failure(self, request: Request, message: Message, status: int = 400) -> Response:
        return self._page(request, "error.html", {"message": message}, status)

    # --- the code flow -------------------------------------------------------------------------------------
    def _network(self, request: Request) -> Network | None:
        network = self.config.network(request.path_params["key"])
        return network if network is not None and network.registered else None

    async def login(self, request: Request) -> Response:
        network = self._network(request)
        if network is None:
            return self._failure(request, Message("failure.unavailable", platform=self.config.display_name), 404)
        try:
            return await start_sign_in(self.oauth, request, self.config, network)
        except SignInFailed as failure:
            return self._failure(request, failure.message, 502)

    async def callback(self, request: Request) -> Response:
        network = self._network(request)
        if network is None:
            return self._failure(request, Message("failure.unavailable", platform=self.config.display_name), 404)
        try:
            signed = await finish_sign_in(self.oauth, request, network)
        except SignInFailed as failure:
            return self._failure(request, failure.message)
        links = dict(request.session.get("links", {}))
        links[network.key] = await self._link(network, signed)
        request.session["links"] = links
        request.session["csrf"] = secrets.token_urlsafe(24)
        rotate_session(request.scope)  # a new session id after every sign-in (session fixation)
        return RedirectResponse("/", status_code=303)

    async def _link(self, network: Network, signed: SignIn) -> dict[str, Any]:
        link: dict[str, Any] = {
            "name": network.name, "issuer": network.issuer, "sub": signed.id_claims["sub"],
            "signed_in_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "access_token": signed.access_token,
            "access_expires_at": time.time() + signed.expires_in, "refused": None,
            # The name in the ID token (if the network put one there), kept so that a refresh matches the
            # credentials against the same name as the sign-in did.
            "id_name": holder_name(signed.id_claims),
        }
        link.update(await self._claims_and_credentials(network, signed.userinfo, link["id_name"]))
        return link

    async def _claims_and_credentials(self, network: Network, userinfo: dict[str, Any],
                                      id_name: str | None) -> dict[str, Any]:
        """What the page shows: the claims as received, and each credential's verification result, checked
        against the name the network released for the member who signed in (None when it did not)."""
        claims = {k: v for k, v in userinfo.items() if k not in ("sub", "affiliation_credentials")}
        received = userinfo.get("affiliation_credentials")
        if received is None:
            return {"claims": claims, "credentials": None}
        member_name = holder_name(userinfo) or id_name
        results = await run_in_threadpool(self._verify, received, network.issuer, member_name)
        return {"claims": claims, "credentials": results}

    def _verify(self, received: Any, issuer: str, member_name: str | None) -> list[Any]:
        with httpx.Client(timeout=5.0, follow_redirects=False) as client:
            fetch = same_origin_fetcher(issuer, client)
            return verify_received(received, issuer, fetch, self.loader, member_name=member_name,
                                   http_for_localhost=self.config.dev_mode)

    # --- forms ---------------------------------------------------------------------------------------------
    async def _csrf_ok(self, request: Request) -> bool:
        form = await request.form()
        sent, expected = form.get("csrf_token"), request.session.get("csrf")
        return isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)

    async def refresh(self, request: Request) -> Response:
        """Ask the network again (UserInfo with the stored access token). A refusal is shown, and the token
        dropped: once the member disconnected the platform at their network, its tokens must stop working."""
        if not await self._csrf_ok(request):
            return self._failure(request, Message("failure.form_expired"), 403)
        network = self.config.network(request.path_params["key"])
        links = dict(request.session.get("links", {}))
        link = links.get(network.key) if network is not None else None
        if network is None or link is None or not link.get("access_token"):
            return RedirectResponse("/", status_code=303)
        if time.time() >= link["access_expires_at"]:  # no refresh token is asked for: signing in again is the way
            links[network.key] = {**link, "access_token": None, "expired": True}
            request.session["links"] = links
            return RedirectResponse("/", status_code=303)
        answer = await fetch_userinfo(self.oauth, network, link["access_token"])
        if answer.claims is None or answer.claims.get("sub") != link["sub"]:
            link = {**link, "refused": answer.refused or "invalid_response", "refused_status": answer.status,
                    "access_token": None}
        else:
            link = {**link, **await self._claims_and_credentials(network, answer.claims, link.get("id_name")),
                    "refused": None}
            request.session["notice"] = Message("notice.up_to_date", network=network.name).as_dict()
        links[network.key] = link
        request.session["links"] = links
        return RedirectResponse("/", status_code=303)

    async def forget(self, request: Request) -> Response:
        if not await self._csrf_ok(request):
            return self._failure(request, Message("failure.form_expired"), 403)
        links = dict(request.session.get("links", {}))
        links.pop(request.path_params["key"], None)
        request.session["links"] = links
        return RedirectResponse("/", status_code=303)

    async def signout(self, request: Request) -> Response:
        if not await self._csrf_ok(request):
            return self._failure(request, Message("failure.form_expired"), 403)
        request.session.clear()
        drop_session(request.scope)
        return RedirectResponse("/", status_code=303)
