"""Signing in with a network: authlib's Starlette client, held to a stricter standard than its defaults.

authlib does the code flow: it makes ``state``, ``nonce`` and the PKCE ``code_verifier`` (S256), keeps them in the
session, refuses a callback whose ``state`` it did not issue (single use), redeems the code with
``client_secret_basic`` and checks the ID token (``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``, ``at_hash``).
On top of it, this module:

- checks the discovery document: its ``issuer`` must be exactly the configured one (Discovery §4.3), a ``jwks``
  embedded in it is ignored so keys come only from ``jwks_uri``, and the accepted ID token algorithms are the
  intersection of what the provider announces with our own allow-list (never ``none`` or ``HS*``);
- requires the ``iss`` authorization-response parameter to be that issuer (RFC 9207, mix-up defence), an ID token
  in every token response, and a UserInfo ``sub`` equal to the ID token's (Core §5.3.2).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from joserfc.errors import JoseError

with warnings.catch_warnings():
    # authlib >= 1.9 prefers the ``httpx2`` package and warns once when it falls back to ``httpx``, which is what
    # this project depends on; the fallback works, and the warning would only clutter ``./run demo``'s banner.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

try:  # whichever of the two authlib's client uses, its transport errors are caught as "cannot reach"
    import httpx2

    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    HTTP_ERRORS = (httpx.HTTPError,)
from starlette.requests import Request
from starlette.responses import RedirectResponse

from nodes.examples.platform.config import Network, PlatformConfig
from nodes.examples.platform.texts import Message

#: ID token algorithms the platform accepts, whatever a provider announces.
ID_TOKEN_ALGORITHMS = ("ES256", "EdDSA", "RS256")
SCOPE = "openid profile email affiliations"
#: The names and the affiliations are essential to an alumni platform (ticked by default on the consent page);
#: the e-mail address is asked for but optional, so it stays unticked unless the member ticks it.
CLAIMS = {"userinfo": {"affiliations": {"essential": True}, "given_name": {"essential": True},
                       "family_name": {"essential": True}, "email": None}}
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = 10.0


class SignInFailed(Exception):
    """The network's answer cannot be trusted or was a refusal; the message is safe to show the person."""

    def __init__(self, key: str, **values: Any) -> None:
        self.message = Message(key, **values)
        super().__init__(str(self.message))


class StrictOpenIdApp(StarletteOAuth2App):  # type: ignore[misc]
    """authlib's Starlette OAuth 2 app with its discovery document checked before first use."""

    expected_issuer: str = ""
    server_metadata: dict[str, Any]

    async def load_server_metadata(self) -> dict[str, Any]:
        fresh = "_loaded_at" not in self.server_metadata
        metadata: dict[str, Any] = await super().load_server_metadata()
        if fresh:
            try:
                _check_metadata(metadata, self.expected_issuer)
            except SignInFailed:
                self.server_metadata = {}  # fetch it again next time rather than keep a bad document
                raise
        return metadata


class StrictOAuth(OAuth):  # type: ignore[misc]
    oauth2_client_cls = StrictOpenIdApp


def _check_metadata(metadata: dict[str, Any], issuer: str) -> None:
    if metadata.get("issuer") != issuer:
        raise SignInFailed("signin.other_issuer")
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(name), str):
            raise SignInFailed("signin.missing_endpoint", name=name)
    metadata.pop("jwks", None)
    announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    allowed = [alg for alg in ID_TOKEN_ALGORITHMS if alg in announced]
    if not allowed:
        raise SignInFailed("signin.no_algorithm")
    metadata["id_token_signing_alg_values_supported"] = allowed
    if "S256" not in (metadata.get("code_challenge_methods_supported") or []):
        raise SignInFailed("signin.no_pkce")


def build_oauth(config: PlatformConfig) -> StrictOAuth:
    """One authlib registry with a client per registered network (named by the network's key)."""
    oauth = StrictOAuth()
    for network in config.networks:
        if not network.registered:
            continue
        oauth.register(
            name=network.key, client_id=network.client_id, client_secret=network.client_secret,
            server_metadata_url=f"{network.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": HTTP_TIMEOUT,
                           "token_endpoint_auth_method": "client_secret_basic"},
        )
        oauth.create_client(network.key).expected_issuer = network.issuer
    return oauth


async def start_sign_in(oauth: StrictOAuth, request: Request, config: PlatformConfig,
                        network: Network) -> RedirectResponse:
    """The redirect to the network's authorization endpoint (authlib stores state, nonce and verifier)."""
    client = oauth.create_client(network.key)
    try:
        response: RedirectResponse = await client.authorize_redirect(
            request, config.redirect_uri(network), claims=json.dumps(CLAIMS)
        )
    except HTTP_ERRORS as exc:
        raise SignInFailed("signin.unreachable", network=network.name) from exc
    return response


@dataclass(frozen=True)
class SignIn:
    """What a completed sign-in gives: the ID token's claims, the UserInfo answer and the access token."""

    id_claims: dict[str, Any]
    userinfo: dict[str, Any]
    access_token: str
    expires_in: int


async def finish_sign_in(oauth: StrictOAuth, request: Request, network: Network) -> SignIn:
    """Check the callback, redeem the code, check the ID token, then call UserInfo."""
    client = oauth.create_client(network.key)
    query = request.query_params
    state = query.get("state")
    if not state or await client.framework.get_state_data(request.session, state) is None:
        raise SignInFailed("signin.unsolicited")
    if "error" in query or query.get("iss") != network.issuer:
        await client.framework.clear_state_data(request.session, state)  # a state is good for one answer only
        if query.get("iss") != network.issuer:
            raise SignInFailed("signin.wrong_issuer", network=network.name)
        raise SignInFailed("signin.refused", network=network.name, error=query["error"][:60])
    try:
        token = await client.authorize_access_token(request, leeway=LEEWAY_SECONDS)
    except OAuthError as exc:
        raise SignInFailed("signin.stale", error=exc.error) from exc
    except JoseError as exc:
        raise SignInFailed("signin.id_token", network=network.name, error=exc.error) from exc
    except HTTP_ERRORS as exc:
        raise SignInFailed("signin.incomplete", network=network.name, error=type(exc).__name__) from exc
    if "id_token" not in token or "userinfo" not in token:
        raise SignInFailed("signin.no_id_token", network=network.name)
    id_claims = dict(token["userinfo"])
    answer = await fetch_userinfo(oauth, network, token["access_token"])
    if answer.refused is not None or answer.claims is None:
        raise SignInFailed("signin.token_refused", network=network.name, error=answer.refused)
    if answer.claims.get("sub") != id_claims.get("sub"):
        raise SignInFailed("signin.other_subject", network=network.name)
    return SignIn(id_claims, answer.claims, token["access_token"], int(token.get("expires_in") or 0))


@dataclass(frozen=True)
class UserinfoAnswer:
    """The UserInfo claims, or the OAuth error that refused the access token (RFC 6750 §3)."""

    claims: dict[str, Any] | None
    refused: str | None = None
    status: int = 200


async def fetch_userinfo(oauth: StrictOAuth, network: Network, access_token: str) -> UserinfoAnswer:
    """GET UserInfo with the bearer token, through authlib's client. A 401 is an answer, not a crash."""
    client = oauth.create_client(network.key)
    try:
        metadata = await client.load_server_metadata()
        response = await client.get(metadata["userinfo_endpoint"],
                                    token={"access_token": access_token, "token_type": "Bearer"})
    except HTTP_ERRORS:
        return UserinfoAnswer(None, "unreachable", 503)
    if response.status_code != 200:
        return UserinfoAnswer(None, _bearer_error(response), response.status_code)
    try:
        claims = response.json()
    except ValueError:
        return UserinfoAnswer(None, "invalid_response", response.status_code)
    if not isinstance(claims, dict):
        return UserinfoAnswer(None, "invalid_response", response.status_code)
    return UserinfoAnswer(claims)


def _bearer_error(response: httpx.Response) -> str:
    """The ``error`` of ``WWW-Authenticate: Bearer error="..."``, else of the JSON body, else the status."""
    challenge = str(response.headers.get("www-authenticate", ""))
    marker = 'error="'
    if marker in challenge:
        return challenge.split(marker, 1)[1].split('"', 1)[0][:60]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:60]
    return f"HTTP {response.status_code}"
