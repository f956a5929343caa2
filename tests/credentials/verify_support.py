"""A small issuing world for the high-level verifier tests: an issuer key, signed credentials and status lists,
and a verifier whose every outside call (key resolution, status list retrieval) is recorded.

Everything is real: credentials and lists are signed with ``create_proof``, keys resolve through
:func:`credentials.key_resolution.key_resolver` (``did:key`` locally, ``did:web`` from the documents held here).
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from credentials import did_key, keys
from credentials.affiliation import Affiliation, Organisation, affiliation_credential
from credentials.data_integrity import create_proof
from credentials.did_web import did_document
from credentials.jsonld_loader import JsonLdLoader
from credentials.key_resolution import key_resolver
from credentials.status import Bitstring, status_list_credential, status_list_entry
from credentials.verification_result import TrustDecision
from credentials.verify import CredentialVerifier

LOADER = JsonLdLoader()
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
LISTS = "https://school.example/status"


class World:
    """One issuer (a ``did:key`` by default, or ``did:web:school.example``), its lists, and what the verifier did."""

    def __init__(self, *, web: bool = False) -> None:
        self.key = keys.generate("Ed25519")
        self.did = "did:web:school.example" if web else did_key.did_key_for(self.key)
        self.method = f"{self.did}#{self.key.kid}" if web else did_key.verification_method_id(self.did)
        self.documents: dict[str, dict[str, Any]] = {}
        if web:
            self.documents["https://school.example/.well-known/did.json"] = did_document(
                self.did, [(self.key.kid, self.key.public_multikey())])
        self.lists: dict[str, dict[str, Any]] = {}
        self.fetched: list[str] = []
        self.resolved: list[str] = []
        self.trusted = {self.did}
        for purpose in ("revocation", "suspension"):
            self.publish(purpose)

    # --- issuer side -------------------------------------------------------------------------------------------
    def publish(self, purpose: str, *, set_bits: tuple[int, ...] = (), url: str | None = None,
                key: keys.SigningKey | None = None, issuer: str | None = None,
                bitstring: Bitstring | None = None, list_purpose: str | None = None) -> dict[str, Any]:
        url = url or f"{LISTS}/{purpose}/1"
        bits = bitstring or Bitstring.zeros()
        for index in set_bits:
            bits.set(index, 1)
        unsigned = status_list_credential(list_id=url, issuer=issuer or self.did,
                                          purpose=list_purpose or purpose,  # type: ignore[arg-type]
                                          bitstring=bits, valid_from=NOW - timedelta(days=1))
        signed = self.sign(unsigned, key=key, method=None if key is None else did_key.verification_method_id(
            did_key.did_key_for(key)))
        self.lists[url] = signed
        return signed

    def credential(self, *, status: bool = True, index: int = 4242, sign: bool = True, **changes: Any) -> dict:
        organisation = Organisation(id=self.did, name="École Exemple", kind="school")
        affiliation = Affiliation(organisation=organisation, member_name="Camille Martin", programme="Génie civil",
                                  degree="Master", class_year=2018)
        entries = [status_list_entry(list_credential=f"{LISTS}/{p}/1", index=index, purpose=p)
                   for p in ("revocation", "suspension")] if status else []
        unsigned = affiliation_credential(affiliation, credential_id=f"urn:uuid:{uuid.uuid4()}",
                                          valid_from=NOW - timedelta(days=30), credential_status=entries)
        unsigned.update(changes)
        return self.sign(unsigned) if sign else unsigned

    def sign(self, document: dict[str, Any], *, key: keys.SigningKey | None = None, method: str | None = None,
             **options: Any) -> dict[str, Any]:
        options.setdefault("clock", lambda: NOW - timedelta(days=1))
        return create_proof(document, key=key or self.key, verification_method=method or self.method,
                            loader=LOADER, **options)

    # --- verifier side -----------------------------------------------------------------------------------------
    def fetch(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if url in self.documents:
            return copy.deepcopy(self.documents[url])
        if url in self.lists:
            return copy.deepcopy(self.lists[url])
        raise ConnectionError("connection refused")

    def resolve(self, method_id: str) -> Any:
        self.resolved.append(method_id)
        return key_resolver(self.fetch)(method_id)

    def trust(self, issuer: str) -> TrustDecision:
        if issuer in self.trusted:
            return TrustDecision(True, "listed by the test")
        return TrustDecision(False, "not listed by the test")

    def verifier(self, now: datetime = NOW) -> CredentialVerifier:
        return CredentialVerifier(loader=LOADER, resolve_key=self.resolve, clock=lambda: now,
                                  retrieve_status_list=self.fetch, issuer_trust=self.trust)

    def outcomes(self, document: Any, now: datetime = NOW) -> dict[str, str]:
        result = self.verifier(now).verify(document)
        return {check.name: check.outcome for check in result.checks}
