"""Helpers for the VC-API tests over real HTTP: an issuing node with an administrator's API token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from nodes.admins import make_admin
from nodes.api_tokens import create_token
from tests.conftest import LiveNode
from tests.e2e.admin_browsing import ADMIN_EMAIL, node_context
from tests.seed import PASSWORD

V2 = "https://www.w3.org/ns/credentials/v2"
ALUMNI = "https://w3id.org/passerelle/alumni/v1"


@dataclass
class Issuer:
    live: LiveNode
    token: str

    @property
    def did(self) -> str:
        return node_context(self.live).did

    def client(self, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Client:
        return self.live.client(headers={"Authorization": f"Bearer {self.token}", **(headers or {})}, **kwargs)

    def credential(self, **changes: Any) -> dict[str, Any]:
        """An unsigned AlumniCredential in this node's name, as a client would post it."""
        credential: dict[str, Any] = {
            "@context": [V2, ALUMNI], "type": ["VerifiableCredential", "AlumniCredential"],
            "issuer": {"id": self.did, "name": "École Test"}, "validFrom": "2024-09-01T00:00:00Z",
            "credentialSubject": {"type": "Person", "name": "Camille Martin", "alumniOf": {
                "type": "OrganizationRole", "alumniOf": {"id": self.did, "type": "EducationalOrganization",
                                                         "name": "École Test"},
                "programme": "Génie civil", "degree": "Master", "classYear": 2018}},
        }
        credential.update(changes)
        return credential

    def issue(self, **changes: Any) -> dict[str, Any]:
        with self.client() as client:
            answer = client.post("/credentials/issue", json={"credential": self.credential(**changes)})
        assert answer.status_code == 201, answer.text
        document: dict[str, Any] = answer.json()["verifiableCredential"]
        return document


def issuer(live_node: Any, **settings: Any) -> Issuer:
    """A live school node, an administrator and an API token for them."""
    live = live_node(**settings)
    make_admin(node_context(live), ADMIN_EMAIL, "Grace", "Hopper", PASSWORD)
    return Issuer(live, create_token(node_context(live), ADMIN_EMAIL, "tests").token)


def verify(live: LiveNode, credential: Any) -> httpx.Response:
    with live.client() as client:
        return client.post("/credentials/verify", json={"verifiableCredential": credential})


def checks(answer: httpx.Response) -> dict[str, str]:
    return {check["check"]: check["outcome"] for check in answer.json()["checks"]}
