"""Organisation keys: creation, publication, rotation, and sealing at rest."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from credentials import keys, sealing
from nodes import keyring
from nodes.storage.models import NodeKey
from tests.nodes.credential_support import context


def test_init_creates_one_current_key_per_purpose(make_node):
    node = make_node()
    with Session(node.engine) as db:
        rows = db.exec(select(NodeKey)).all()
    assert sorted((r.purpose, r.algorithm, r.status) for r in rows) == [
        ("credentials", "Ed25519", "current"), ("jose", "ES256", "current"),
        ("jose-eddsa", "Ed25519", "current"), ("jose-rsa", "RS256", "current"),
    ]


def test_ensure_keys_is_idempotent(make_node):
    node = make_node()
    assert keyring.ensure_keys(node.engine, node.secret) == []


def test_signature_made_before_rotation_still_verifies_after_it(make_node):
    node = make_node()
    old = keyring.current_signing_key(node.engine, node.secret, "credentials")
    signature = old.sign(b"affiliation")
    new_kid = keyring.rotate(node.engine, node.secret, "credentials")
    assert new_kid != old.kid
    doc = keyring.did_doc(node.engine, "did:web:localhost%3A1")
    published = {m["id"].split("#")[1]: m["publicKeyMultibase"] for m in doc["verificationMethod"]}
    assert set(published) == {old.kid, new_kid}
    assert doc["verificationMethod"][0]["id"].endswith(new_kid), "the current key is listed first"
    keys.public_key_from_multikey(published[old.kid]).verify(signature, b"affiliation")
    with pytest.raises(keys.SignatureError):
        keys.public_key_from_multikey(published[new_kid]).verify(signature, b"affiliation")


def test_rotated_jose_key_signs_and_old_key_stays_in_jwks(make_node):
    node = make_node()
    old = keyring.current_signing_key(node.engine, node.secret, "jose")
    token_sig = old.sign(b"header.payload")
    keyring.rotate(node.engine, node.secret, "jose")
    current = keyring.current_signing_key(node.engine, node.secret, "jose")
    assert current.kid != old.kid
    published = {k["kid"]: k for k in keyring.jwks(node.engine)["keys"] if k["alg"] == "ES256"}
    assert set(published) == {old.kid, current.kid}
    keys.public_key_from_jwk(published[old.kid]).verify(token_sig, b"header.payload")


def test_private_keys_are_sealed_and_never_published(make_node):
    node = make_node()
    with Session(node.engine) as db:
        row = db.exec(select(NodeKey).where(NodeKey.purpose == "credentials")).one()
    signing = keyring.current_signing_key(node.engine, node.secret, "credentials")
    assert signing.private_pkcs8() not in row.sealed_private
    assert all("d" not in k for k in keyring.jwks(node.engine)["keys"])
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(b"x" * 40, row.sealed_private, row.kid.encode())
    assert repr(signing) == f"SigningKey(algorithm='Ed25519', kid={signing.kid!r})"


def test_sealed_key_cannot_be_moved_to_another_row(make_node):
    node = make_node()
    with Session(node.engine) as db:
        rows = db.exec(select(NodeKey)).all()
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(node.secret, rows[0].sealed_private, rows[1].kid.encode())


def test_did_document_and_jwks_are_served_over_http(live_node):
    live = live_node()
    with live.client() as http:
        did = http.get("/.well-known/did.json")
        jwks = http.get("/.well-known/jwks.json")
    port = live.url.rsplit(":", 1)[1]
    assert did.status_code == 200 and did.headers["content-type"].startswith("application/did+json")
    assert did.json()["id"] == f"did:web:localhost%3A{port}"
    method = did.json()["verificationMethod"][0]
    assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["alg"] == "ES256"


def test_id_token_keys_sign_from_memory_and_a_rotation_is_picked_up_in_the_background(make_node, monkeypatch):
    """A key older than a minute still signs at once (no request waits on the keyring, and SQLite's token endpoint
    never reads it on the event loop) while a worker thread reads the current one."""
    import time

    from nodes.oidc import node_provider

    node = make_node()
    source = node_provider.KeyringKeys(context(node))
    source.warm()
    old = source.signing_key("ES256")
    new_kid = keyring.rotate(node.engine, node.secret, "jose")
    assert source.signing_key("ES256").kid == old.kid  # within the minute: from memory
    monkeypatch.setattr(node_provider, "KEY_CACHE_SECONDS", 0.0)
    assert source.signing_key("ES256").kid == old.kid  # stale: still signs, and a refresh has started
    deadline = time.monotonic() + 10
    while source.signing_key("ES256").kid != new_kid:
        assert time.monotonic() < deadline, "the rotated key was never picked up"
        time.sleep(0.01)


def test_an_id_token_key_keeps_signing_when_its_refresh_cannot_reach_the_database(make_node, monkeypatch, caplog,
                                                                                 tmp_path):
    import dataclasses
    import time

    from nodes.oidc import node_provider
    from nodes.storage.db import make_engine

    node = make_node()
    source = node_provider.KeyringKeys(context(node))
    source.warm()
    key = source.signing_key("ES256")
    unreachable = make_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'node.db'}")  # cannot be opened
    source.node = dataclasses.replace(source.node, engine=unreachable)
    monkeypatch.setattr(node_provider, "KEY_CACHE_SECONDS", 0.0)
    with caplog.at_level("WARNING", logger="passerelle.oidc"):
        assert source.signing_key("ES256").kid == key.kid  # signs at once; the refresh fails in its thread
        deadline = time.monotonic() + 10
        while "reading the jose signing key failed" not in caplog.text:
            assert time.monotonic() < deadline, "the refresh never ran"
            time.sleep(0.01)
    assert source.signing_key("ES256").kid == key.kid
    unreachable.dispose()
