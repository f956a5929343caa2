"""POST /credentials/issue over real HTTP: who may issue, bad input (SECURITY V13, S1), Idempotency-Key (V14),
request size and shape (V12), the alumni context and the status list URLs (S8)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.admin_browsing import ADMIN_EMAIL
from tests.e2e.browsing import sign_in
from tests.e2e.vc_support import V2, issuer, verify
from tests.nodes.credential_support import allocated, issued_count
from tests.seed import PASSWORD, seed_member

ROOT = Path(__file__).resolve().parents[2]


def test_issuing_needs_an_administrator_token_or_session(live_node):
    school = issuer(live_node)
    seed_member(school.live.node.engine, email="alice@ecole.example", password=PASSWORD)
    body = {"credential": school.credential()}
    with school.live.client() as anonymous:
        answer = anonymous.post("/credentials/issue", json=body)
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
        assert anonymous.post("/credentials/issue", json=body,
                              headers={"Authorization": "Bearer psl_forged"}).status_code == 401
        assert anonymous.post("/credentials/issue", json=body,
                              headers={"Authorization": f"Basic {school.token}"}).status_code == 401
    with school.live.client() as member:
        sign_in(member, "alice@ecole.example", PASSWORD)
        assert member.post("/credentials/issue", json=body).status_code == 403
    with school.live.client() as admin:
        sign_in(admin, ADMIN_EMAIL, PASSWORD)
        assert admin.post("/credentials/issue", json=body).status_code == 201
    assert issued_count(school.live.node) == 1


def test_issued_credential_is_signed_by_the_node_with_its_status_and_verifies(live_node):
    school = issuer(live_node)
    credential = school.issue()
    assert credential["proof"]["verificationMethod"].startswith(school.did + "#")
    assert credential["id"].startswith("urn:uuid:") and len(credential["credentialStatus"]) == 2
    answer = verify(school.live, credential)
    assert answer.status_code == 200 and answer.json()["verified"] is True


def _without(credential, name):
    credential.pop(name)
    return credential


BAD_REQUESTS = {
    "no credential": lambda s: {"options": {}},
    "credential not an object": lambda s: {"credential": "a string"},
    "missing @context": lambda s: {"credential": _without(s.credential(), "@context")},
    "missing type": lambda s: {"credential": _without(s.credential(), "type")},
    "missing issuer": lambda s: {"credential": _without(s.credential(), "issuer")},
    "missing credentialSubject": lambda s: {"credential": _without(s.credential(), "credentialSubject")},
    "type not a string": lambda s: {"credential": s.credential(type=5)},
    "issuer not a URL": lambda s: {"credential": s.credential(issuer=5)},
    "@context a string": lambda s: {"credential": s.credential(**{"@context": V2})},
    "issuer another organisation": lambda s: {"credential": s.credential(issuer="did:web:other.example")},
    "already signed": lambda s: {"credential": s.credential(proof={"type": "DataIntegrityProof"})},
    "unknown context": lambda s: {"credential": s.credential(**{"@context": [V2, "https://evil.example/c"]})},
    "schema mismatch": lambda s: {"credential": s.credential(validFrom="yesterday")},
    "undefined term": lambda s: {"credential": s.credential(nickname="Cam")},
    "options not an object": lambda s: {"credential": s.credential(), "options": []},
    "id too long": lambda s: {"credential": s.credential(id="urn:x:" + "a" * 300)},
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_v13_bad_issue_request_is_refused_with_nothing_stored_and_no_index_reserved(live_node, case):
    school = issuer(live_node)
    school.issue()  # a status list exists, with one index allocated
    before = (issued_count(school.live.node), allocated(school.live.node))
    with school.client() as client:
        answer = client.post("/credentials/issue", json=BAD_REQUESTS[case](school))
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json" and answer.json()["detail"]
    assert (issued_count(school.live.node), allocated(school.live.node)) == before


@pytest.mark.parametrize("index", [True, "abc", "-1", 7])
def test_s1_status_list_index_sent_at_issuance_is_malformed_value_error(live_node, index):
    school = issuer(live_node)
    entry = {"id": "https://x.example/status/1#1", "type": "BitstringStatusListEntry",
             "statusPurpose": "revocation", "statusListIndex": index,
             "statusListCredential": "https://x.example/status/1"}
    with school.client() as client:
        answer = client.post("/credentials/issue", json={"credential": school.credential(credentialStatus=entry)})
    assert answer.status_code == 400 and answer.json()["error"] == "MALFORMED_VALUE_ERROR"
    assert issued_count(school.live.node) == 0 and allocated(school.live.node) == 0


def test_v14_repeated_idempotency_key_returns_the_same_credential_without_a_second_index(live_node):
    school = issuer(live_node)
    body = {"credential": school.credential()}
    with school.client(headers={"Idempotency-Key": "run-42"}) as client:
        first = client.post("/credentials/issue", json=body)
        second = client.post("/credentials/issue", json=body)
        other = client.post("/credentials/issue", json={"credential": school.credential(validFrom="2024-09-02T"
                                                                                                 "00:00:00Z")})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert issued_count(school.live.node) == 1 and allocated(school.live.node) == 1


def test_reissuing_an_existing_credential_id_is_a_conflict(live_node):
    school = issuer(live_node)
    credential = school.issue()
    with school.client() as client:
        again = client.post("/credentials/issue", json={"credential": school.credential(id=credential["id"])})
    assert again.status_code == 409 and issued_count(school.live.node) == 1


def _timed(client, path, **kwargs):
    started = time.perf_counter()
    answer = client.post(path, **kwargs)
    return answer, time.perf_counter() - started


@pytest.mark.parametrize("path", ["/credentials/issue", "/credentials/verify", "/presentations/verify"])
def test_v12_oversized_deep_and_wide_bodies_are_refused_fast(live_node, path):
    school = issuer(live_node)
    deep = "[" * 10_000 + "]" * 10_000
    wide = json.dumps({"verifiableCredential": {"x": [0] * 100_000}})
    with school.client() as client:
        huge, seconds = _timed(client, path, content=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                               headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and seconds < 2
        for body, words in ((deep, "nests too deeply"), (wide, "more than")):
            answer, seconds = _timed(client, path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400 and words in answer.json()["detail"] and seconds < 2
    assert issued_count(school.live.node) == 0


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b'{"a": 1, "a": 2}', "application/json", 400),
    (b'{"a": NaN}', "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b'{"verifiableCredential": {}}', "text/plain", 415),
])
def test_malformed_json_is_a_client_error_never_a_server_error(live_node, body, content_type, status):
    school = issuer(live_node)
    with school.client() as client:
        for path in ("/credentials/issue", "/credentials/verify"):
            answer = client.post(path, content=body, headers={"Content-Type": content_type})
            assert answer.status_code == status, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


def test_the_alumni_context_is_served_byte_for_byte(live_node):
    school = issuer(live_node)
    with school.live.client() as client:
        answer = client.get("/contexts/alumni/v1")
    bundled = (ROOT / "schemas" / "contexts" / "passerelle-alumni-v1.jsonld").read_bytes()
    assert answer.status_code == 200 and answer.content == bundled
    assert answer.headers["content-type"].startswith("application/ld+json")


def test_s8_status_list_is_served_signed_with_cache_control_aligned_to_its_ttl(live_node):
    school = issuer(live_node, status_list_ttl_seconds=120)
    credential = school.issue()
    url = credential["credentialStatus"][0]["statusListCredential"]
    with school.live.client() as client:
        answer = client.get(url)
        missing = [client.get(p).status_code for p in ("/status/revocation/9", "/status/other/1", "/status/x/y")]
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/vc"
    assert answer.headers["cache-control"] == "public, max-age=120"
    listed = answer.json()
    assert listed["credentialSubject"]["ttl"] == 120_000 and listed["id"] == url
    assert url == f"{school.live.url}/status/revocation/1"  # nothing about the holder in the URL
    assert verify(school.live, listed).json()["verified"] is True
    assert missing == [404, 404, 400]
