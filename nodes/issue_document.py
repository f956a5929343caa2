"""``POST /credentials/issue``: check a credential posted by an authorised client, then issue it like any other.

Everything that can be checked without the database is checked first (SECURITY V13): the VC 2.0 shape, bundled
contexts only, the node as issuer, no proof yet, no ``credentialStatus`` (the node assigns it; a malformed one gets
its own error, such as ``MALFORMED_VALUE_ERROR`` for ``statusListIndex: true``, S1) and, for the Passerelle types,
their JSON Schema. A refused request stores nothing and reserves no status index. JSON-LD problems found while
signing roll the transaction back just as well.

``Idempotency-Key`` (V14): the key is stored hashed with the SHA-256 of the request; the same key with the same
request returns the credential issued the first time, with another request it is 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from credentials import vc_structure
from credentials.affiliation import CREDENTIAL_TYPE, check_credential_schema
from credentials.errors import CredentialError
from credentials.status.documents import parse_entry
from nodes.context import NodeContext
from nodes.issuance import IssuanceProblem, Pending, issue, new_credential_id
from nodes.storage.credential_tables import IssuedCredential

MAX_KEY_LENGTH = 255


def idempotency_hashes(actor: str, key: str | None, body: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(key hash, request hash)`` for an ``Idempotency-Key``, or ``None`` without one; 400 for a bad key."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IssuanceProblem(400, "invalid_request", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable "
                              "characters")
    key_hash = hashlib.sha256(f"{actor}\x00{key}".encode()).hexdigest()
    request = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return key_hash, hashlib.sha256(request.encode()).hexdigest()


def issue_document(node: NodeContext, body: object, *, actor: str, ip: str | None = None,
                   idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Issue the ``credential`` of a VC-API request body; returns ``(signed credential, newly issued)``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("credential"), Mapping):
        raise IssuanceProblem(400, "invalid_request", "the request body must be an object with a 'credential' object")
    options = body.get("options", {})
    if not isinstance(options, Mapping):
        raise IssuanceProblem(400, "invalid_request", "'options' must be an object")
    idempotency = idempotency_hashes(actor, idempotency_key, body)
    if idempotency is not None and (earlier := _earlier(node, idempotency)) is not None:
        return earlier, False
    credential = dict(body["credential"])
    credential.setdefault("id", new_credential_id())
    credential_type = _check(node, credential)
    with Session(node.engine) as db:
        if db.get(IssuedCredential, credential["id"]) is not None:
            raise IssuanceProblem(409, "conflict", "a credential with this id has already been issued")
    pending = Pending(credential["id"], credential_type, partial(_with_status, credential))
    try:
        [row] = issue(node, [pending], actor=actor, ip=ip, idempotency=idempotency)
    except IntegrityError:
        if idempotency is not None and (earlier := _earlier(node, idempotency)) is not None:
            return earlier, False  # a concurrent request with the same key won
        raise IssuanceProblem(409, "conflict", "a credential with this id has already been issued") from None
    return dict(row.document), True


def _earlier(node: NodeContext, idempotency: tuple[str, str]) -> dict[str, Any] | None:
    key_hash, request_hash = idempotency
    with Session(node.engine) as db:
        row = db.exec(select(IssuedCredential).where(IssuedCredential.idempotency_key == key_hash)).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IssuanceProblem(422, "idempotency_key_reused",
                              "this Idempotency-Key was already used for a different request")
    return dict(row.document)


def _check(node: NodeContext, credential: dict[str, Any]) -> str:
    """Every check that needs no database; returns the credential's type to record."""
    for name in ("@context", "type", "issuer"):
        if name not in credential:
            raise IssuanceProblem(400, "MALFORMED_VALUE_ERROR", f"the credential has no {name}")
    try:
        vc_structure.check_credential(credential)
        node.loader.check_contexts(credential)
    except CredentialError as exc:
        raise IssuanceProblem(400, exc.code, str(exc)[:500]) from exc
    if not isinstance(credential.get("id"), str) or len(credential["id"]) > 200:
        raise IssuanceProblem(400, "MALFORMED_VALUE_ERROR", "the credential id must be a URL of at most 200 characters")
    if vc_structure.issuer_id(credential) != node.did:
        raise IssuanceProblem(400, "MALFORMED_VALUE_ERROR", f"this node issues credentials only as {node.did}")
    if "proof" in credential:
        raise IssuanceProblem(400, "MALFORMED_VALUE_ERROR", "the credential to issue must not have a proof yet")
    _refuse_status(credential.get("credentialStatus"))
    types = vc_structure.types_of(credential)
    ours = [t for t in types if t in CREDENTIAL_TYPE.values()]
    try:
        if ours:
            check_credential_schema(credential)
    except CredentialError as exc:
        raise IssuanceProblem(400, exc.code, str(exc)[:500]) from exc
    others = [t for t in types if t != vc_structure.CREDENTIAL_TYPE]
    return (ours or others or [vc_structure.CREDENTIAL_TYPE])[0][:100]


def _refuse_status(value: object) -> None:
    if value is None:
        return
    for entry in value if isinstance(value, list) else [value]:
        try:
            parse_entry(entry)
        except CredentialError as exc:
            raise IssuanceProblem(400, exc.code, f"credentialStatus: {str(exc)[:300]}") from exc
    raise IssuanceProblem(400, "MALFORMED_VALUE_ERROR", "credentialStatus is assigned by this node; leave it out")


def _with_status(credential: dict[str, Any], *, credential_status: list[dict[str, str]]) -> dict[str, Any]:
    return {**credential, "credentialStatus": credential_status}
