"""The scopes and claims this provider offers (OpenID Connect Core 1.0 §5.1, §5.4), and which claims a request asks.

A scope is a bundle of claims: ``profile`` → names, ``email`` → the address, ``affiliations`` → the member's
affiliations with this organisation. ``openid`` releases only ``sub``; ``offline_access`` releases no claim but asks
for a refresh token, so the member consents to it like to a claim (§11). Claims requested through a scope are
*voluntary* (§5.4); only the ``claims`` request parameter can mark one *essential* (§5.5.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from federation.oidc.claims_request import ClaimsRequest

#: Scope → the claims it releases. The order is the order of the consent page.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": (),
    "profile": ("name", "given_name", "family_name"),
    "email": ("email", "email_verified"),
    "affiliations": ("affiliations",),
    "offline_access": (),
}
SUPPORTED_SCOPES: tuple[str, ...] = tuple(SCOPE_CLAIMS)
#: Every claim this provider can release, besides ``sub`` which every response carries.
SUPPORTED_CLAIMS: tuple[str, ...] = tuple(c for claims in SCOPE_CLAIMS.values() for c in claims)
#: The consent item that stands for ``offline_access``: being reachable while the member is away.
OFFLINE_ACCESS = "offline_access"
#: Claims that come as a pair: consenting to the first releases the second (``email_verified`` says whether
#: the ``email`` is verified and means nothing alone).
COMPANION_CLAIMS: dict[str, str] = {"email_verified": "email"}
#: Items released with signed credentials, and the claims those credentials show whatever else the member chose:
#: ``affiliations`` hands out the affiliation credentials (UserInfo's ``affiliation_credentials``), whose
#: ``credentialSubject.name`` is the member's full name, given and family names together (credentials/affiliation.py).
#: The credentials are signed as issued, so nothing can be left out of them, and they are the same for every platform.
CREDENTIAL_CLAIMS: dict[str, tuple[str, ...]] = {"affiliations": ("name", "given_name", "family_name")}


@dataclass(frozen=True)
class RequestedItem:
    """One line of the consent page: a claim (or ``offline_access``) and where it goes.

    ``essential`` items are ticked by default; voluntary ones are unticked (privacy by default).
    """

    name: str
    essential: bool
    in_userinfo: bool
    in_id_token: bool


def scope_list(scope: str | None) -> list[str]:
    """The scope string as a list, order kept, duplicates dropped."""
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen


def requested_items(scope: str | None, claims: ClaimsRequest) -> list[RequestedItem]:
    """What this request asks the member to release, one item per consent choice.

    Scope claims go to the UserInfo response (§5.4); a claim of the ``claims`` parameter goes where it was asked
    (``userinfo`` and/or ``id_token``). Claims we do not offer are ignored (§5.5: "ignored by the OP").
    """
    scopes = scope_list(scope)
    items: dict[str, RequestedItem] = {}
    for name in (c for s in scopes for c in SCOPE_CLAIMS.get(s, ()) if c not in COMPANION_CLAIMS):
        items[name] = RequestedItem(name, essential=False, in_userinfo=True, in_id_token=False)
    for member, where in ((claims.userinfo, "userinfo"), (claims.id_token, "id_token")):
        for name, requirement in member.items():
            name = COMPANION_CLAIMS.get(name, name)
            if name not in SUPPORTED_CLAIMS:
                continue
            old = items.get(name, RequestedItem(name, False, False, False))
            items[name] = RequestedItem(
                name,
                essential=old.essential or requirement.essential,
                in_userinfo=old.in_userinfo or where == "userinfo",
                in_id_token=old.in_id_token or where == "id_token",
            )
    ordered = sorted(items.values(), key=lambda item: SUPPORTED_CLAIMS.index(item.name))
    if OFFLINE_ACCESS in scopes:
        ordered.append(RequestedItem(OFFLINE_ACCESS, essential=False, in_userinfo=False, in_id_token=False))
    return ordered


def released_names(items: Iterable[RequestedItem], granted: Iterable[str]) -> dict[str, list[str]]:
    """The claims to release, by destination, given the member's ``granted`` choices.

    Returns ``{"userinfo": [...], "id_token": [...]}``; companion claims follow their main claim, and
    ``offline_access`` is not a claim, so it never appears here.
    """
    chosen = set(granted)
    out: dict[str, list[str]] = {"userinfo": [], "id_token": []}
    for item in items:
        if item.name not in chosen or item.name == OFFLINE_ACCESS:
            continue
        names = [item.name] + [c for c, main in COMPANION_CLAIMS.items() if main == item.name]
        if item.in_userinfo:
            out["userinfo"].extend(names)
        if item.in_id_token:
            out["id_token"].extend(names)
    return out


def narrowed_claims(claims: dict[str, list[str]], grant_scope: str, scope: str) -> dict[str, list[str]]:
    """The claims (by destination) that an access token of ``scope``, and its ID token, may carry when a refresh
    asks for less than the grant's ``grant_scope`` (RFC 6749 §6, §3.3). ``claims`` are the grant's. Only the access
    token is narrowed: the refresh token keeps the grant's scope and claims.

    The rule: without ``openid`` nothing is released (there is no ID token, and UserInfo refuses the token).
    Otherwise a claim goes when a scope that bundles it (:data:`SCOPE_CLAIMS`) was in the grant and the request
    leaves it out: asking without ``profile`` is asking for no names. A claim asked through the ``claims`` parameter
    is not tied to a scope, so it stays when no scope of the grant bundles it: the client asked for it on its own
    and has not left it out. A claim the grant had both through a scope and through the ``claims`` parameter goes
    with its scope: a grant records the names, not where they came from, and narrowing errs on releasing less.
    """
    kept = scope_list(scope)
    if "openid" not in kept:
        return {where: [] for where in claims}
    dropped = {name for s in scope_list(grant_scope) if s not in kept for name in SCOPE_CLAIMS.get(s, ())}
    return {where: [name for name in names if name not in dropped] for where, names in claims.items()}
