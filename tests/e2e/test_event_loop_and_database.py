"""The event loop never waits on the database: form POSTs, the admin and member actions, the consent, the verifier
page, a roster upload and the issuing API read and write in worker threads, so a slow database holds up the requests
that need it, not ``/healthz`` and the rest.

Every connection checkout of the node's two engines (the ORM's and the direct pool's) is watched; one made by a
thread that is running an event loop fails the test. SQLite's token endpoints are the exception by design: their
connections, of a third engine that is not watched, never wait (ADR 0600)."""

from __future__ import annotations

import asyncio
import traceback
from contextlib import closing

from sqlalchemy import event

from tests.conftest import LiveNode
from tests.e2e.admin_browsing import ADMIN_EMAIL, form_token, upload
from tests.e2e.browsing import HTML, csrf_of, sign_in
from tests.e2e.vc_support import issuer
from tests.nodes.credential_support import rows
from tests.nodes.oidc_flow import browser, refresh, register, tokens_for, userinfo
from tests.seed import PASSWORD, SCHOOL_AFFILIATION, seed_member


def checkouts_on_the_loop(live: LiveNode) -> list[str]:
    """A list that fills with the stack of every checkout made on an event loop's thread from now on."""
    node = live.server.config.app.state.node
    found: list[str] = []

    def checkout(*_: object) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread
        found.append("".join(traceback.format_stack(limit=40)))

    for engine in (node.engine, node.direct_reads.engine):
        event.listen(engine, "checkout", checkout)
    return found


def test_form_posts_consent_and_the_issuing_api_use_the_database_off_the_event_loop(live_node):
    school = issuer(live_node)
    live = school.live
    alice = seed_member(live.node.engine, email="alice@ecole.example", password=PASSWORD,
                        affiliations=[SCHOOL_AFFILIATION])
    platform = register(live)
    on_loop = checkouts_on_the_loop(live)

    with closing(browser(live, "alice@ecole.example")) as member:  # POST /signin, then a consent
        tokens = tokens_for(live, member, platform, "openid profile offline_access", ["name", "offline_access"])
        assert refresh(live, platform, tokens["refresh_token"]).status_code == 200
        assert userinfo(live, tokens["access_token"]).status_code == 200
        page = member.get("/me/credentials", headers=HTML)
        affiliation = page.text.split('name="affiliation" value="', 1)[1].split('"', 1)[0]
        asked = member.post("/me/credentials/request", headers=HTML,
                            data={"csrf_token": csrf_of(page), "affiliation": affiliation, "form": "credential"})
        assert asked.status_code == 303
        verify_page = member.get("/verify", headers=HTML)
        empty = member.post("/verify", headers=HTML, data={"csrf_token": csrf_of(verify_page), "document": ""})
        assert empty.status_code == 400
    admin = live.client()
    with closing(admin):
        assert sign_in(admin, ADMIN_EMAIL, PASSWORD).status_code == 303
        token = form_token(admin, "/admin/credentials")
        issued = admin.post("/admin/credentials/issue", headers=HTML,
                            data={"csrf_token": token, "email": "alice@ecole.example", "open_badge": "1"})
        assert issued.status_code == 303
        invited = admin.post(f"/admin/members/{alice.public_id}/invite", headers=HTML,
                             data={"csrf_token": token, "back": "/admin/members"})
        assert invited.status_code == 303
        refused = admin.post("/admin/credentials/state", headers=HTML,
                             data={"csrf_token": token, "id": rows(live.node)[0].id, "action": "suspend",
                                   "reason": ""})
        assert refused.status_code == 400 and "credential" in refused.text  # the page again, with the problem
        assert upload(admin, b"not,a,roster\n").status_code == 400
    school.issue()  # POST /credentials/issue with the administrator's API token

    assert on_loop == [], on_loop[0]
