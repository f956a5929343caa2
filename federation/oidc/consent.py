"""Consent: what a member's choice releases, and the receipt they can keep.

The receipt follows the shape of the Kantara Initiative Consent Receipt Specification 1.1 (a JSON document naming
the controller, the purpose, the data categories and the time), simplified to what a person can read: which
platform, which claims, when, under which privacy policy, and how to withdraw.

An item released with signed credentials (``affiliations``) also releases what those credentials show (the
member's full name, :data:`~federation.oidc.scopes.CREDENTIAL_CLAIMS`): the receipt's ``credentials`` entry says so,
and ``refused`` lists only what the platform does not receive at all, so a name the member unticked but that travels
in the credentials is not listed as withheld.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from federation.oidc.scopes import COMPANION_CLAIMS, CREDENTIAL_CLAIMS, OFFLINE_ACCESS, RequestedItem

RECEIPT_VERSION = "KI-CR-v1.1.0"


def default_choices(items: Iterable[RequestedItem], remembered: Iterable[str] = ()) -> frozenset[str]:
    """The items ticked when the consent page opens: the essential ones, and those the member's live consent for the
    platform already grants (``remembered``). Nothing else is ticked (privacy by default), and what the member
    allowed before stays allowed unless they untick it: the answer replaces the earlier choice for every item the
    page shows."""
    kept = set(remembered)
    return frozenset(item.name for item in items if item.essential or item.name in kept)


def chosen(items: Iterable[RequestedItem], ticked: Iterable[str]) -> frozenset[str]:
    """The member's ticks, kept only where they answer an item of this request (a forged name is dropped)."""
    names = {item.name for item in items}
    return frozenset(name for name in ticked if name in names)


def consent_receipt(
    *,
    receipt_id: str,
    issued_at: datetime,
    controller: str,
    controller_url: str,
    platform: str,
    platform_policy: str | None,
    subject: str,
    granted: Iterable[str],
    refused: Iterable[str],
) -> dict[str, Any]:
    """A consent receipt for one grant. ``subject`` is the identifier the platform knows the member by.

    ``credentials`` names each granted item that hands out signed credentials, with the claims they show and the
    fact that they are the same for every platform; a claim they show is not listed under ``refused``."""
    granted_set = set(granted)
    granted_list = sorted(n for n in granted_set if n != OFFLINE_ACCESS)
    shown_by = {item: sorted(shown) for item, shown in CREDENTIAL_CLAIMS.items() if item in granted_set}
    credentials = {item: {"shows": shown, "sameForEveryPlatform": True} for item, shown in shown_by.items()}
    carried = {name for shown in shown_by.values() for name in shown}
    return {
        "version": RECEIPT_VERSION,
        "consentReceiptID": receipt_id,
        "consentTimestamp": int(issued_at.timestamp()),
        "consentTimestampISO": issued_at.isoformat(),
        "collectionMethod": "OpenID Connect consent page",
        "piiPrincipalId": subject,
        "piiControllers": [{"piiController": controller, "url": controller_url}],
        "recipient": {"name": platform, "privacyPolicy": platform_policy},
        "services": [
            {
                "service": f"Sign in to {platform}",
                "purposes": [
                    {
                        "purpose": "Authentication and the claims below, sent to the platform",
                        "piiCategory": granted_list,
                        "refused": sorted(set(refused) - carried),
                        "credentials": credentials,
                        "offlineAccess": OFFLINE_ACCESS in granted_set,
                        "termination": f"{controller_url}/me/platforms",
                    }
                ],
            }
        ],
    }


def consented(names: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The claims of ``names`` (what a code or token recorded, for one destination) that a consent granting
    ``granted`` lets out: the granted claims, and a companion claim whose main claim is granted (``email_verified``
    with ``email``). Order kept.

    UserInfo and every ID token (a code's, a refresh grant's) release through this, against the member's live
    consent read with the token or code: a claim the member has withdrawn since the grant is no longer released,
    whatever the grant recorded."""
    allowed = set(granted)
    allowed |= {companion for companion, main in COMPANION_CLAIMS.items() if main in allowed}
    return [name for name in names if name in allowed]
