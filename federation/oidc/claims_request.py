"""The ``claims`` request parameter (OpenID Connect Core 1.0 §5.5): which claims, where, and whether essential.

The parameter is a JSON object with optional ``userinfo`` and ``id_token`` members, each mapping a claim name to
``null`` or to ``{"essential": bool, "value": ..., "values": [...]}``. We read ``essential`` and keep ``value`` /
``values`` only to refuse malformed ones; we never release a claim because a value was asked for. The one value we
act on is ``id_token.sub.value``: the request is then for that member only (§5.5.1), see
:func:`federation.oidc.authorize.next_step`. A malformed
parameter is ``invalid_request``; members other than ``userinfo`` and ``id_token`` are ignored (§5.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_CLAIMS_PARAMETER_BYTES = 4096
MAX_CLAIMS_PER_MEMBER = 50
MAX_CLAIM_NAME = 100


class ClaimsRequestError(ValueError):
    """A ``claims`` parameter that is not the JSON object §5.5 describes (answered as ``invalid_request``)."""


@dataclass(frozen=True)
class ClaimRequirement:
    """How one claim is asked for: voluntary unless ``essential``."""

    essential: bool = False


@dataclass(frozen=True)
class ClaimsRequest:
    """The parsed ``claims`` parameter; empty when the request had none."""

    userinfo: dict[str, ClaimRequirement] = field(default_factory=dict)
    id_token: dict[str, ClaimRequirement] = field(default_factory=dict)
    subject: str | None = None  # the ``sub`` value asked for in the ID token


def parse_claims_request(raw: str | None) -> ClaimsRequest:
    """Parse the ``claims`` parameter; ``None`` or empty gives an empty request. Raises :class:`ClaimsRequestError`."""
    if not raw:
        return ClaimsRequest()
    if len(raw.encode()) > MAX_CLAIMS_PARAMETER_BYTES:
        raise ClaimsRequestError("the claims parameter is too large")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ClaimsRequestError("the claims parameter is not JSON") from exc
    if not isinstance(value, dict):
        raise ClaimsRequestError("the claims parameter must be a JSON object")
    id_token = _member(value, "id_token")
    return ClaimsRequest(userinfo=_member(value, "userinfo"), id_token=id_token,
                         subject=_subject(value) if "sub" in id_token else None)


def _subject(value: dict[str, Any]) -> str | None:
    spec = value["id_token"]["sub"]
    if not isinstance(spec, dict) or "value" not in spec:
        return None
    if not isinstance(spec["value"], str) or not spec["value"]:
        raise ClaimsRequestError("claims.id_token.sub.value must be a non-empty string")
    return spec["value"]


def _member(value: dict[str, Any], name: str) -> dict[str, ClaimRequirement]:
    member = value.get(name)
    if member is None:
        return {}
    if not isinstance(member, dict):
        raise ClaimsRequestError(f"claims.{name} must be a JSON object")
    if len(member) > MAX_CLAIMS_PER_MEMBER:
        raise ClaimsRequestError(f"claims.{name} asks for too many claims")
    out: dict[str, ClaimRequirement] = {}
    for claim, spec in member.items():
        if not claim or len(claim) > MAX_CLAIM_NAME:
            raise ClaimsRequestError(f"claims.{name} has an empty or too long claim name")
        out[claim] = _requirement(name, claim, spec)
    return out


def _requirement(member: str, claim: str, spec: Any) -> ClaimRequirement:
    if spec is None:
        return ClaimRequirement()
    if not isinstance(spec, dict):
        raise ClaimsRequestError(f"claims.{member}.{claim} must be null or a JSON object")
    essential = spec.get("essential", False)
    if not isinstance(essential, bool):
        raise ClaimsRequestError(f"claims.{member}.{claim}.essential must be true or false")
    if "values" in spec and not isinstance(spec["values"], list):
        raise ClaimsRequestError(f"claims.{member}.{claim}.values must be an array")
    return ClaimRequirement(essential=essential)
