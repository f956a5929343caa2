"""Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414, RFC 9207): what this provider really does.

Every value here is a promise a test holds us to: only ``code``, only ``S256``, pairwise and public subjects,
ES256 / RS256 / EdDSA ID tokens (RS256 is required by OpenID Connect Core §15.1), the four client authentication
methods we accept, no request objects, and ``iss`` in authorization responses.
"""

from __future__ import annotations

from typing import Any

from federation.oidc.client_auth import ASSERTION_ALGORITHMS
from federation.oidc.id_token import ID_TOKEN_ALGORITHMS
from federation.oidc.models import AUTH_METHODS
from federation.oidc.scopes import SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from federation.oidc.subject import SUBJECT_TYPES


def provider_metadata(issuer: str, *, with_credentials: bool = False) -> dict[str, Any]:
    """The ``/.well-known/openid-configuration`` document for ``issuer`` (no trailing slash)."""
    claims = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", *SUPPORTED_CLAIMS]
    if with_credentials:
        claims.append("affiliation_credentials")
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGORITHMS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": [m for m in AUTH_METHODS if m != "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": ["fr", "en"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }
