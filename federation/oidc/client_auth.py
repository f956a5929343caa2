"""``private_key_jwt`` client authentication (OpenID Connect Core 1.0 §9, RFC 7523 §2.2, §3).

The client signs a short-lived JWT with a key whose public half it registered. We verify it through
:mod:`credentials.jose` with an explicit allow-list (ES256, RS256, EdDSA; never ``none`` or an HMAC), check
``iss`` = ``sub`` = the client id, an ``aud`` that is our issuer identifier and nothing else, a near ``exp``, and a
``jti`` we have not seen before (replay).

The audience is the issuer alone (draft-ietf-oauth-rfc7523bis, after the 2025 audience-injection disclosure).
RFC 7523 also allowed the token endpoint URL, or any array containing an accepted value; but a client that takes
endpoints from an authorization server's metadata can be led by a malicious server, which lists our token
endpoint as one of its own, to sign an assertion whose audience is our token endpoint and hand it to that server,
which replays it here. An issuer identifier cannot be borrowed that way: a client checks that the metadata it
fetched names the issuer it asked for (RFC 8414 §3.3). So the token endpoint URL is refused, and so is an array
with anything else in it. A one-element array holding exactly the issuer is accepted: it names the one audience as
precisely as the string does, and some JWT libraries always write ``aud`` as an array.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError

from credentials.jose import JoseError, read_unverified, verify_jwt
from federation.oidc.models import Client

if TYPE_CHECKING:
    from federation.oidc.http import CoreRequest
    from federation.oidc.provider import Provider

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("ES256", "RS256", "EdDSA")
LEEWAY_SECONDS = 60


class PrivateKeyJwt:
    """A client authentication method for authlib's registry: returns the client, ``None`` or raises."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def __call__(self, query_client: Any, request: CoreRequest) -> Client | None:
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        try:
            _, unverified = read_unverified(assertion)
        except JoseError as exc:
            raise InvalidClientError(description="Malformed client assertion.") from exc
        client_id = unverified.get("sub")
        if not isinstance(client_id, str):
            raise InvalidClientError(description="The client assertion has no 'sub'.")
        client = query_client(client_id)
        if client is None or client.auth_method != "private_key_jwt" or not client.jwks:
            return None
        if form.get("client_id") not in (None, client_id):
            raise InvalidClientError(description="'client_id' does not match the assertion.")
        try:
            _, claims = verify_jwt(assertion, client.jwks, ASSERTION_ALGORITHMS)
        except JoseError as exc:
            raise InvalidClientError(description="The client assertion does not verify.") from exc
        self._check_claims(claims, client_id)
        return client  # type: ignore[no-any-return]

    def _check_claims(self, claims: dict[str, Any], client_id: str) -> None:
        config, now = self.provider.config, self.provider.now()
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise InvalidClientError(description="'iss' and 'sub' must be the client id.")
        if not _only_audience_is(claims.get("aud"), config.issuer):
            raise InvalidClientError(description="The assertion's 'aud' must be this provider's issuer identifier.")
        exp = claims.get("exp")
        stamp = int(now.timestamp())
        if not isinstance(exp, int) or exp + LEEWAY_SECONDS < stamp:
            raise InvalidClientError(description="The assertion has expired.")
        if exp > stamp + config.assertion_max_lifetime:
            raise InvalidClientError(description="The assertion lives too long.")
        iat = claims.get("iat")
        if iat is not None and (not isinstance(iat, int) or iat > stamp + LEEWAY_SECONDS):
            raise InvalidClientError(description="The assertion is issued in the future.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 200:
            raise InvalidClientError(description="The assertion needs a 'jti'.")
        expires = now + timedelta(seconds=max(0, exp - stamp) + LEEWAY_SECONDS)
        if self.provider.store.seen_assertion(client_id, jti, expires, now):
            raise InvalidClientError(description="The assertion was already used.")


def _only_audience_is(audience: Any, issuer: str) -> bool:
    """``aud`` is ``issuer``, as a string or as the only member of an array (see the module docstring)."""
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    return isinstance(audience, str) and audience == issuer
