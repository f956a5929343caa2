"""Pinning the connection to a checked address keeps TLS honest: SNI and certificate checks use the name."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nodes.fetch import FetchError, SafeFetcher
from tests.nodes.scripted_server import ScriptedServer, answer


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject: str, issuer_name: x509.Name, public_key, signing_key, *, ca: bool, san=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Test CA", _name("Test CA"), ca_key.public_key(), ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("school.test", ca_cert.subject, leaf_key.public_key(), ca_key, ca=False,
                        san=[x509.DNSName("school.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.key").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")
    client_context = ssl.create_default_context(cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    return server_context, client_context


@pytest.fixture
def tls_server(pki):
    server = ScriptedServer(ssl_context=pki[0]).start()
    server.routes["/.well-known/did.json"] = answer(json.dumps({"id": "did:web:school.test"}).encode(),
                                                    "application/did+json")
    yield server
    server.stop()


def _fetcher(pki, host_map):
    transport = httpx.HTTPTransport(verify=pki[1], limits=httpx.Limits(max_keepalive_connections=0))
    return SafeFetcher(dev_mode=True, transport=transport, resolver=lambda host, port: host_map[host])


def test_pinned_https_fetch_sends_the_name_as_sni_and_checks_the_certificate_for_it(pki, tls_server):
    with _fetcher(pki, {"school.test": ["127.0.0.1"]}) as fetcher:
        document = fetcher(f"https://school.test:{tls_server.port}/.well-known/did.json")
    assert document == {"id": "did:web:school.test"}
    assert tls_server.seen[-1].host == f"school.test:{tls_server.port}"


def test_pinned_https_fetch_refuses_a_certificate_for_another_name(pki, tls_server):
    # The address is the same and the certificate even lists 127.0.0.1, but it does not name other.test.
    with _fetcher(pki, {"other.test": ["127.0.0.1"]}) as fetcher, pytest.raises(FetchError):
        fetcher(f"https://other.test:{tls_server.port}/.well-known/did.json")
