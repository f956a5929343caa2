"""The credential pages over real HTTP, as a browser uses them: admin issuing and status changes, the member's
credentials (JSON, QR code, Open Badge), and the public verifier page in French and English."""

from __future__ import annotations

import base64
import json
import re
import time
import zlib
from contextlib import closing

from sqlmodel import Session, select

from nodes.storage.credential_tables import IssuanceJob
from nodes.storage.models import AuditEvent
from tests.e2e.admin_browsing import admin_client, form_token, node_context
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.e2e.vc_support import verify
from tests.nodes.credential_support import issued_count, rows
from tests.seed import COMPANY_AFFILIATION, PASSWORD, SCHOOL_AFFILIATION, seed_member


def _alice(live, **kwargs):
    return seed_member(live.node.engine, password=PASSWORD, affiliations=[SCHOOL_AFFILIATION], **kwargs)


def test_admin_issues_the_missing_credentials_of_one_member(live_node):
    live = live_node()
    _alice(live)
    client, _ = admin_client(live)
    with closing(client):
        token = form_token(client, "/admin/credentials")
        answer = client.post("/admin/credentials/issue", data={"csrf_token": token, "email": "ALICE@ecole.example"},
                             headers=HTML)
        assert answer.status_code == 303 and "issued=1" in answer.headers["location"]
        page = client.get(answer.headers["location"], headers=HTML)
        assert "1 credentials issued." in page.text and "alice@ecole.example" in page.text
        again = client.post("/admin/credentials/issue", data={"csrf_token": token, "email": "alice@ecole.example"},
                            headers=HTML)
        assert "issued=0" in again.headers["location"]  # nothing missing any more
        unknown = client.post("/admin/credentials/issue", data={"csrf_token": token, "email": "nobody@x.example"},
                              headers=HTML)
        assert unknown.status_code == 404
    assert issued_count(live.node) == 1


def test_credential_pages_need_an_admin_and_forms_need_the_csrf_token(live_node):
    live = live_node()
    _alice(live)
    with live.client() as member:
        sign_in(member, "alice@ecole.example", PASSWORD)
        assert member.get("/admin/credentials", headers=HTML).status_code == 403
    client, _ = admin_client(live)
    with closing(client):
        refused = client.post("/admin/credentials/issue", data={"email": "alice@ecole.example"}, headers=HTML)
        assert refused.status_code == 403
    assert issued_count(live.node) == 0


def test_admin_issues_to_the_whole_roster_and_watches_the_progress(live_node):
    live = live_node()
    for number in range(5):
        seed_member(live.node.engine, email=f"m{number}@ecole.example", affiliations=[SCHOOL_AFFILIATION])
    client, _ = admin_client(live)
    with closing(client):
        token = form_token(client, "/admin/credentials")
        started = client.post("/admin/credentials/issue-all", data={"csrf_token": token}, headers=HTML)
        assert started.status_code == 303 and started.headers["location"].startswith("/admin/credentials/jobs/")
        deadline = time.monotonic() + 30
        while True:
            page = client.get(started.headers["location"], headers=HTML)
            assert page.status_code == 200 and "<progress" in page.text
            if "Finished." in page.text or time.monotonic() > deadline:
                break
            assert page.headers["refresh"] == "2"
            time.sleep(0.2)
    assert "Finished." in page.text and "5 of 5 affiliations" in page.text and "refresh" not in page.headers
    assert issued_count(live.node) == 5
    with Session(live.node.engine) as db:
        assert db.exec(select(IssuanceJob)).one().state == "done"
        assert db.exec(select(AuditEvent).where(AuditEvent.action == "credential.issue.roster")).first()


def test_admin_suspends_reinstates_and_revokes_with_a_reason_each_audited(live_node):
    live = live_node()
    alice = _alice(live)
    client, admin_id = admin_client(live)
    with closing(client):
        token = form_token(client, "/admin/credentials")
        client.post("/admin/credentials/issue", data={"csrf_token": token, "email": "alice@ecole.example"},
                    headers=HTML)
        [row] = rows(live.node)
        view = f"/admin/credentials/view?id={row.id}"
        page = client.get(view, headers=HTML)
        assert "Suspend" in page.text and "Revoke" in page.text

        def act(action, reason):
            return client.post("/admin/credentials/state", headers=HTML,
                               data={"csrf_token": csrf_of(page), "id": row.id, "action": action, "reason": reason})

        assert act("suspend", "").status_code == 400
        assert act("suspend", "identity check").status_code == 303
        assert act("reinstate", "identity confirmed").status_code == 303
        assert act("reinstate", "again").status_code == 409
        done = act("revoke", "degree withdrawn")
        assert done.status_code == 303
        page = client.get(done.headers["location"], headers=HTML)
        assert "The credential is revoked." in page.text and "degree withdrawn" in page.text
        assert 'value="revoke"' not in page.text  # revocation is final: no more form
    assert verify(live, row.document).json()["status"] == "revoked"
    with Session(live.node.engine) as db:
        events = db.exec(select(AuditEvent).where(AuditEvent.target == row.id)).all()
    assert [(e.action, e.actor, e.detail.get("reason")) for e in events] == [
        ("credential.issue", admin_id, None), ("credential.suspend", admin_id, "identity check"),
        ("credential.reinstate", admin_id, "identity confirmed"), ("credential.revoke", admin_id, "degree withdrawn")]
    assert row.member_id == alice.id


def _png_size(data_uri):
    png = base64.b64decode(data_uri.split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    idat = png.index(b"IDAT")
    length = int.from_bytes(png[idat - 4:idat], "big")
    rows_ = zlib.decompress(png[idat + 4:idat + 4 + length])
    assert len(rows_) == height * (1 + (width + 7) // 8)
    return width, height


def test_member_sees_downloads_and_scans_their_credentials_in_french(live_node):
    live = live_node()
    _alice(live)
    bob = seed_member(live.node.engine, email="bob@ecole.example", password=PASSWORD,
                      affiliations=[SCHOOL_AFFILIATION])
    with live.client(headers={"Accept-Language": "fr"}) as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        page = client.get("/me/credentials", headers=HTML)
        assert "Aucune attestation ne vous a encore été délivrée." in page.text
        client.post("/me/credentials/request", headers=HTML,
                    data={"csrf_token": csrf_of(page), "affiliation": _affiliation_of(live, "alice"),
                          "form": "credential"})
        page = client.get("/me/credentials", headers=HTML)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "Génie civil" in page.text and "AlumniCredential" in page.text and "valide" in page.text
        qr = re.search(r'src="(data:image/png;base64,[^"]+)"', page.text).group(1)
        assert _png_size(qr)[0] >= 21
        [row] = [r for r in rows(live.node) if r.member_id != bob.id]
        download = client.get("/me/credentials/download", params={"id": row.id})
        assert download.headers["content-disposition"].startswith("attachment;")
        assert json.loads(download.content) == row.document
        assert verify(live, json.loads(download.content)).status_code == 200
    bob_row = _issue_for(live, "bob@ecole.example")
    with live.client() as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        assert client.get("/me/credentials/download", params={"id": bob_row.id}).status_code == 404


def test_member_asks_for_an_open_badge_of_an_affiliation_in_english(live_node):
    live = live_node(kind="company")
    seed_member(live.node.engine, password=PASSWORD, affiliations=[COMPANY_AFFILIATION])
    with live.client(headers={"Accept-Language": "en"}) as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        page = client.get("/me/credentials", headers=HTML)
        assert "Get it as an Open Badge" in page.text
        client.post("/me/credentials/request", headers=HTML,
                    data={"csrf_token": csrf_of(page), "affiliation": _affiliation_of(live, "alice"),
                          "form": "open_badge"})
        page = client.get("/me/credentials", headers=HTML)
    [row] = rows(live.node)
    assert row.credential_type == "OpenBadgeCredential" and "Open Badge" in page.text
    subject = row.document["credentialSubject"]
    assert subject["achievement"]["achievementType"] == "Membership" and subject["role"] == "Data engineer"
    assert verify(live, row.document).status_code == 200


def test_member_cannot_ask_for_a_credential_of_someone_elses_affiliation(live_node):
    live = live_node()
    _alice(live)
    seed_member(live.node.engine, email="bob@ecole.example", affiliations=[SCHOOL_AFFILIATION])
    with live.client() as client:
        sign_in(client, "alice@ecole.example", PASSWORD)
        token = csrf_of(client.get("/me/credentials", headers=HTML))
        answer = client.post("/me/credentials/request", headers=HTML,
                             data={"csrf_token": token, "affiliation": _affiliation_of(live, "bob")})
    assert answer.status_code == 404 and issued_count(live.node) == 0


def _affiliation_of(live, name):
    from nodes.storage.models import Affiliation, Member

    with Session(live.node.engine) as db:
        return str(db.exec(select(Affiliation.id).join(Member, Member.id == Affiliation.member_id)
                           .where(Member.email_key == f"{name}@ecole.example")).one())


def _issue_for(live, email):
    from nodes.issuance import issue_affiliations, pending_affiliations
    from nodes.members import email_key
    from nodes.storage.models import Member

    node = node_context(live)
    with Session(node.engine) as db:
        member = db.exec(select(Member).where(Member.email_key == email_key(email))).one()
        pending = pending_affiliations(db, open_badge=False, member_id=member.id)
    [row] = issue_affiliations(node, pending, actor="test").issued
    return row


def test_verifier_page_shows_every_check_of_a_pasted_credential_in_french(live_node):
    live = live_node()
    _alice(live)
    row = _issue_for(live, "alice@ecole.example")
    with live.client(headers={"Accept-Language": "fr"}) as client:
        token = csrf_of(client.get("/verify", headers=HTML))
        page = client.post("/verify", headers=HTML, data={"csrf_token": token, "document": json.dumps(row.document)})
        assert page.status_code == 200 and "Vérifiée : toutes les vérifications sont passées." in page.text
        for name in ("Structure", "Contextes JSON-LD", "Signature", "Clé de l&#39;émetteur", "Période de validité",
                     "Statut (révocation, suspension)", "Émetteur de confiance"):
            assert name in page.text, name
        changed = json.loads(json.dumps(row.document))
        changed["credentialSubject"]["name"] = "Mallory"
        page = client.post("/verify", headers=HTML, data={"csrf_token": token, "document": json.dumps(changed)})
        assert "Non vérifiée" in page.text and "signature does not verify" in page.text


def test_verifier_page_takes_an_upload_in_english_and_explains_bad_input(live_node):
    live = live_node()
    _alice(live)
    row = _issue_for(live, "alice@ecole.example")
    with live.client(headers={"Accept-Language": "en"}) as client:
        token = csrf_of(client.get("/verify", headers=HTML))
        files = {"file": ("credential.json", json.dumps(row.document).encode(), "application/json")}
        page = client.post("/verify", headers=HTML, data={"csrf_token": token}, files=files)
        assert "Verified: every check passed." in page.text and "Signature" in page.text
        bad = client.post("/verify", headers=HTML, data={"csrf_token": token, "document": "{not json"})
        assert bad.status_code == 400 and "This is not a JSON document that can be verified." in bad.text
        deep = client.post("/verify", headers=HTML, data={"csrf_token": token, "document": "[" * 5000})
        assert deep.status_code == 400
        empty = client.post("/verify", headers=HTML, data={"csrf_token": token, "document": " "})
        assert empty.status_code == 400 and "Paste a credential" in empty.text
        assert client.post("/verify", headers=HTML, data={"document": "{}"}).status_code == 403


def test_verifier_page_checks_a_presentation_with_the_challenge_typed_in(live_node):
    from datetime import UTC, datetime

    from credentials import did_key, keys
    from credentials.data_integrity import create_proof

    live = live_node()
    _alice(live)
    row = _issue_for(live, "alice@ecole.example")
    holder = keys.generate("Ed25519")
    did = did_key.did_key_for(holder)
    presentation = create_proof(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"], "holder": did,
         "verifiableCredential": [row.document]},
        key=holder, verification_method=did_key.verification_method_id(did), loader=node_context(live).loader,
        clock=lambda: datetime.now(UTC), proof_purpose="authentication", challenge="desk-42", domain="event.example")
    with live.client(headers={"Accept-Language": "en"}) as client:
        token = csrf_of(client.get("/verify", headers=HTML))
        form = {"csrf_token": token, "document": json.dumps(presentation), "challenge": "desk-42",
                "domain": "event.example"}
        page = client.post("/verify", headers=HTML, data=form)
        assert "Result for the presentation" in page.text and "Verified: every check passed." in page.text
        assert "Credential 1 of the presentation" in page.text and "Holder&#39;s key" in page.text
        replay = client.post("/verify", headers=HTML, data=form)
        assert "Not verified" in replay.text and "replay" in replay.text
