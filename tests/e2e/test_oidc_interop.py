"""The provider against an independent OpenID Connect client: panva's ``openid-client`` (npm), run by Node.js.

The library does discovery, builds the authorization URL (PKCE S256, state, nonce), validates the callback (state
and the RFC 9207 ``iss``), redeems the code, checks the ID token's signature against our JWKS and its claims, and
calls UserInfo, introspection, refresh and revocation. The browser part in between (sign-in, consent) is driven
over real HTTP by the test. ``node_modules`` is installed from the pinned lock file when missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import HTML
from tests.nodes import oidc_flow as flow

HERE = Path(__file__).resolve().parents[1] / "interop" / "oidc-js"


@pytest.fixture(scope="module")
def openid_client() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js and npm are required for the openid-client interop tests under CI")
        pytest.skip("Node.js and npm are needed for the openid-client interop tests")
    if not (HERE / "node_modules" / "openid-client").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300,
                       capture_output=True)
    return HERE / "flow.mjs"


def run_rp(script: Path, live: Any, browser: Any, options: dict[str, Any], claims: list[str]) -> dict[str, Any]:
    """Run the Node RP; answer its authorization URL with our signed-in browser; return what it validated."""
    options = {"issuer": live.url, **options}
    with subprocess.Popen(["node", str(script), json.dumps(options)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=HERE) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        first = json.loads(proc.stdout.readline() or '{"error": "no output"}')
        assert "authorization_url" in first, first
        response = browser.get(first["authorization_url"], headers=HTML)
        if response.status_code == 200:
            response = flow.consent(browser, response, claims)
        assert response.status_code == 302, response.text
        proc.stdin.write(response.headers["location"] + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline() or '{"error": "no output"}')
        proc.wait(timeout=30)
    assert "result" in answer, answer
    result: dict[str, Any] = answer["result"]
    return result


def test_openid_client_code_flow_with_refresh_rotation_and_rs256(live_node, openid_client):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, id_token_alg="RS256", post_logout_redirect_uris=["https://platform.example/bye"])
    browser = flow.browser(live, member.email)
    result = run_rp(openid_client, live, browser, {
        "client_id": platform.client_id, "client_secret": platform.secret, "auth_method": "client_secret_basic",
        "redirect_uri": platform.redirect_uri, "scope": "openid profile email affiliations offline_access",
        "id_token_alg": "RS256", "post_logout_redirect_uri": "https://platform.example/bye",
    }, claims=["name", "email", "affiliations", "offline_access"])

    claims, info = result["claims"], result["userinfo"]
    assert claims["iss"] == live.url and claims["aud"] == platform.client_id and claims["azp"] == platform.client_id
    assert info["sub"] == claims["sub"] != member.public_id
    assert info["email"] == member.email and info["name"] == "Alice Martin"
    assert info["affiliations"][0]["programme"] == "Génie civil"
    assert "given_name" not in info, "a claim the member did not tick is not released"
    assert result["introspection"]["active"] is True and result["introspection"]["sub"] == claims["sub"]
    assert result["refreshed_userinfo"]["sub"] == claims["sub"]
    assert result["reused_refresh"]["error"] == "invalid_grant"
    assert result["after_reuse_userinfo"]["status"] == 401, "reuse of a rotated refresh token revokes the family"
    assert result["code_replay"]["error"] == "invalid_grant"
    assert "id_token_hint=" in result["end_session_url"]


def test_openid_client_public_client_es256_and_revocation(live_node, openid_client):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, auth_method="none")
    browser = flow.browser(live, member.email)
    result = run_rp(openid_client, live, browser, {
        "client_id": platform.client_id, "auth_method": "none", "redirect_uri": platform.redirect_uri,
        "scope": "openid email",
    }, claims=["email"])
    assert result["userinfo"] == {"sub": result["claims"]["sub"], "email": member.email, "email_verified": True}
    assert result["after_revocation_userinfo"]["status"] == 401
    assert result["code_replay"]["error"] == "invalid_grant"


def test_openid_client_eddsa_id_token_with_claims_parameter(live_node, openid_client):
    live = live_node()
    member = flow.member_with_password(live)
    platform = flow.register(live, auth_method="client_secret_post", id_token_alg="EdDSA")
    browser = flow.browser(live, member.email)
    result = run_rp(openid_client, live, browser, {
        "client_id": platform.client_id, "client_secret": platform.secret, "auth_method": "client_secret_post",
        "redirect_uri": platform.redirect_uri, "scope": "openid", "id_token_alg": "EdDSA",
        "claims": {"id_token": {"email": {"essential": True}}},
    }, claims=["email"])
    assert result["claims"]["email"] == member.email, "an essential id_token claim, consented, is in the ID token"
    assert "email" not in result["userinfo"], "it was asked for the ID token only"


def test_openid_client_private_key_jwt_assertions_name_the_issuer(live_node, openid_client):
    """The library's own ``private_key_jwt`` assertions (``aud`` is the issuer, draft-ietf-oauth-rfc7523bis) pass
    at the token, introspection and revocation endpoints."""
    import base64

    from credentials import keys

    live = live_node()
    member = flow.member_with_password(live)
    key = keys.generate("ES256")
    platform = flow.register(live, auth_method="private_key_jwt", jwks=[{**key.public_jwk(), "kid": key.kid}])
    browser = flow.browser(live, member.email)
    result = run_rp(openid_client, live, browser, {
        "client_id": platform.client_id, "auth_method": "private_key_jwt", "redirect_uri": platform.redirect_uri,
        "scope": "openid email", "private_key_pkcs8": base64.b64encode(key.private_pkcs8()).decode(),
        "kid": key.kid,
    }, claims=["email"])
    assert result["userinfo"]["email"] == member.email
    assert result["introspection"]["active"] is True
    assert result["after_revocation_userinfo"]["status"] == 401
    assert result["code_replay"]["error"] == "invalid_grant"
