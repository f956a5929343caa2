"""PKCE (RFC 7636) as this provider requires it: ``S256`` only, for every client, public or confidential.

authlib's ``CodeChallenge`` allows ``plain`` and makes PKCE optional for confidential clients; OAuth 2.1 and
RFC 9700 §2.1.1 ask for more, so these two checks replace it (SECURITY O12).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError

# An S256 challenge is the base64url of a SHA-256: exactly 43 characters of the unpadded alphabet.
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def check_challenge(data: Mapping[str, str]) -> tuple[str, str]:
    """Validate the authorization request's challenge; returns ``(challenge, "S256")`` or raises ``invalid_request``.
    A repeated challenge never reaches here (:func:`federation.oidc.http.refuse_repeated`)."""
    challenge = data.get("code_challenge")
    method = data.get("code_challenge_method")
    if not challenge:
        raise InvalidRequestError("PKCE is required: send 'code_challenge' with 'code_challenge_method=S256'.")
    if method != "S256":
        raise InvalidRequestError("Only 'code_challenge_method=S256' is supported.")
    if not CHALLENGE.match(challenge):
        raise InvalidRequestError("Invalid 'code_challenge': expected 43 base64url characters.")
    return challenge, method


def check_verifier(verifier: str | None, challenge: str | None) -> None:
    """Validate the token request's verifier against the stored challenge (RFC 7636 §4.6, RFC 9700 §4.8.2).

    A verifier without a stored challenge is a downgrade attempt (``invalid_request``); a missing or malformed
    verifier is ``invalid_request``; one that does not hash to the challenge is ``invalid_grant``.
    """
    if not challenge:
        if verifier:
            raise InvalidRequestError("The authorization request had no 'code_challenge'.")
        raise InvalidRequestError("PKCE is required.")
    if not verifier:
        raise InvalidRequestError("Missing 'code_verifier'.")
    if not VERIFIER.match(verifier):
        raise InvalidRequestError("Invalid 'code_verifier'.")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrantError("Code challenge failed.")
