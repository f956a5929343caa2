"""The organisation's signing keys: creation at init, rotation, and the published public keys.

Purposes: ``credentials`` (Ed25519, published as Multikey in the DID document) and ``jose`` (ES256, published
in the JWKS for tokens and federation statements); ``jose-rsa`` (RS256) and ``jose-eddsa`` (Ed25519 as JWS EdDSA)
sign the ID tokens of the OpenID Connect clients registered for those algorithms, and are in the JWKS too.
Rotation inserts the new key and retires the old one in one transaction: the moment the new key can sign, it is
also published, and the old public key stays published.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from credentials import keys, sealing
from credentials.did_web import did_document
from nodes.clock import Clock, utc_now
from nodes.storage.db import transaction
from nodes.storage.models import NodeKey

Purpose = Literal["credentials", "jose", "jose-rsa", "jose-eddsa"]
ALGORITHMS: dict[Purpose, keys.KeyAlgorithm] = {
    "credentials": "Ed25519", "jose": "ES256", "jose-rsa": "RS256", "jose-eddsa": "Ed25519",
}
#: The purposes whose public keys make up the JWKS (``/.well-known/jwks.json``).
JOSE_PURPOSES: tuple[Purpose, ...] = ("jose", "jose-rsa", "jose-eddsa")


class KeyringError(RuntimeError):
    """The node has no current key for a purpose (run ``passerelle init``)."""


def _new_row(purpose: Purpose, secret: bytes, clock: Clock) -> NodeKey:
    key = keys.generate(ALGORITHMS[purpose])
    return NodeKey(
        kid=key.kid,
        purpose=purpose,
        algorithm=key.algorithm,
        public_jwk={**key.public_jwk(), "kid": key.kid},
        sealed_private=sealing.seal(secret, key.private_pkcs8(), key.kid.encode()),
        status="current",
        created_at=clock(),
    )


def ensure_keys(engine: Engine, secret: bytes, clock: Clock = utc_now) -> list[str]:
    """Create a current key for every purpose that has none; returns the new key ids."""
    created = []
    with transaction(engine) as session:
        for purpose in ALGORITHMS:
            if _current_row(session, purpose) is None:
                row = _new_row(purpose, secret, clock)
                session.add(row)
                created.append(row.kid)
    return created


def rotate(engine: Engine, secret: bytes, purpose: Purpose, clock: Clock = utc_now) -> str:
    """Make a new key current for ``purpose``; the previous one is retired but stays published."""
    with transaction(engine) as session:
        now = clock()
        for old in session.exec(
            select(NodeKey).where(NodeKey.purpose == purpose, NodeKey.status == "current")
        ):
            old.status = "retired"
            old.retired_at = now
            session.add(old)
        row = _new_row(purpose, secret, clock)
        session.add(row)
        return row.kid


def _current_row(session: Session, purpose: Purpose) -> NodeKey | None:
    return session.exec(
        select(NodeKey).where(NodeKey.purpose == purpose, NodeKey.status == "current")
    ).first()


def current_signing_key(engine: Engine, secret: bytes, purpose: Purpose) -> keys.SigningKey:
    """Unseal the current key for ``purpose``. The private key never leaves the returned object."""
    with Session(engine) as session:
        row = _current_row(session, purpose)
    if row is None:
        raise KeyringError(f"no current {purpose} key: run 'passerelle init'")
    der = sealing.open_sealed(secret, row.sealed_private, row.kid.encode())
    return keys.load_pkcs8(ALGORITHMS[purpose], der)


def published_keys(engine: Engine, purpose: Purpose) -> list[NodeKey]:
    """Every key of ``purpose``, current first then newest retired: all of them stay published."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(NodeKey).where(NodeKey.purpose == purpose).order_by(col(NodeKey.created_at).desc())
            )
        )
    return sorted(rows, key=lambda r: r.status != "current")


def jwks(engine: Engine) -> dict[str, Any]:
    """The public JWKS: the JOSE keys (ES256, RS256, EdDSA), current and retired; no private member ever appears."""
    return {"keys": [dict(row.public_jwk) for purpose in JOSE_PURPOSES for row in published_keys(engine, purpose)]}


def did_doc(engine: Engine, did: str) -> dict[str, Any]:
    """The organisation's DID document with every credentials key as a Multikey verification method."""
    entries = [(row.kid, keys.multikey_from_jwk(row.public_jwk)) for row in published_keys(engine, "credentials")]
    return did_document(did, entries)
