"""Registering platforms: the CLI and the admin page show the secret once and store its hash; bad input is refused."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from credentials import keys
from federation.oidc.models import secret_hash
from nodes.cli import app
from nodes.oidc.clients import ClientRegistration, ClientRegistrationError, register_client
from nodes.storage.oidc_tables import OidcClient
from tests.e2e.browsing import HTML, csrf_of
from tests.nodes import oidc_flow as flow
from tests.nodes.credential_support import context
from tests.nodes.scripted_server import ScriptedServer, answer
from tests.seed import PASSWORD, seed_member


def stored(engine) -> list[OidcClient]:
    with Session(engine) as db:
        return list(db.exec(select(OidcClient)))


def test_cli_clients_add_prints_the_secret_once_and_stores_its_hash(make_node):
    node = make_node()
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(node.config_file), "clients", "add", "--name", "Alumni Hub",
                                 "--redirect-uri", "https://hub.example/cb", "--id-token-alg", "RS256"])
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client_id: (\S+)", result.output).group(1)
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    [row] = stored(node.engine)
    assert row.client_id == client_id and row.secret_hash == secret_hash(secret) and secret not in row.model_dump_json()
    assert row.subject_type == "pairwise" and row.id_token_alg == "RS256" and row.sector == "hub.example"
    listing = runner.invoke(app, ["--config", str(node.config_file), "clients", "list"])
    assert client_id in listing.output and secret not in listing.output


def test_cli_public_client_has_no_secret(make_node):
    node = make_node()
    result = CliRunner().invoke(app, ["--config", str(node.config_file), "clients", "add", "--name", "SPA",
                                      "--redirect-uri", "http://localhost:5173/cb", "--public",
                                      "--subject-type", "public"])
    assert result.exit_code == 0 and "client_secret" not in result.output
    [row] = stored(node.engine)
    assert row.auth_method == "none" and row.secret_hash is None and row.subject_type == "public"


def test_cli_refuses_a_bad_redirect_uri_with_a_clear_message_and_stores_nothing(make_node):
    node = make_node()
    result = CliRunner().invoke(app, ["--config", str(node.config_file), "clients", "add", "--name", "X",
                                      "--redirect-uri", "http://hub.example/cb"])
    assert result.exit_code == 2 and "https" in result.output
    assert stored(node.engine) == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"redirect_uris": ["https://hub.example/cb#frag"]}, "redirect_uri"),
    ({"redirect_uris": ["https://user@hub.example/cb"]}, "redirect_uri"),
    ({"redirect_uris": ["https://*.hub.example/cb"]}, "redirect_uri"),
    ({"redirect_uris": ["ftp://hub.example/cb"]}, "redirect_uri"),
    ({"redirect_uris": []}, "redirect_uris"),
    ({"redirect_uris": ["https://a.example/cb", "https://b.example/cb"]}, "sector_identifier_uri"),
    ({"name": ""}, "name"),
    ({"name": "x\x00y"}, "name"),
    ({"auth_method": "client_secret_jwt"}, "auth_method"),
    ({"id_token_alg": "none"}, "id_token_alg"),
    ({"id_token_alg": "HS256"}, "id_token_alg"),
    ({"subject_type": "global"}, "subject_type"),
    ({"auth_method": "private_key_jwt"}, "jwks"),
    ({"auth_method": "private_key_jwt", "jwks": [{"kty": "oct", "k": "c2VjcmV0"}]}, "jwks"),
    ({"policy_uri": "javascript:alert(1)"}, "policy_uri"),
])
def test_registration_refuses_bad_input_and_stores_nothing(make_node, changes, field):
    node = make_node()
    values = {"name": "Hub", "redirect_uris": ["https://hub.example/cb"], **changes}
    with pytest.raises(ClientRegistrationError, match=field):
        register_client(context(node), ClientRegistration(**values), "test")
    assert stored(node.engine) == []


@pytest.fixture
def sector_host():
    """A web server on loopback standing for the platform's own host, which serves its sector identifier document
    (a third party's static file: nothing of ours runs there)."""
    server = ScriptedServer().start()
    yield server
    server.stop()


SEVERAL_HOSTS = ["https://a.example/cb", "https://b.example/cb"]


def _register_with_sector(node, server, document: bytes | None, content_type: str = "application/json"):
    """Register a client whose sector document is ``document`` (``None``: the server has none, 404)."""
    if document is not None:
        server.routes["/uris.json"] = answer(document, content_type)
    return register_client(context(node), ClientRegistration(
        name="Hub", redirect_uris=SEVERAL_HOSTS,
        sector_identifier_uri=f"http://localhost:{server.port}/uris.json"), "test")


def test_registration_accepts_several_hosts_when_the_sector_document_lists_every_redirect_uri(make_node, sector_host):
    node = make_node()
    row, _ = _register_with_sector(node, sector_host, json.dumps([*SEVERAL_HOSTS, "https://c.example/cb"]).encode())
    assert row.sector == "localhost" and [seen.path for seen in sector_host.seen] == ["/uris.json"]


@pytest.mark.parametrize(("document", "content_type", "message"), [
    (json.dumps(SEVERAL_HOSTS[:1]).encode(), "application/json", "does not list https://b.example/cb"),
    (json.dumps(["https://a.example/cb/", "https://B.example/cb"]).encode(), "application/json", "does not list"),
    (json.dumps({"redirect_uris": SEVERAL_HOSTS}).encode(), "application/json", "not a JSON array"),
    (json.dumps([*SEVERAL_HOSTS, 7]).encode(), "application/json", "JSON array of redirect URIs"),
    (b"<html>", "text/html", "not JSON"),
    (b"[", "application/json", "not valid JSON"),
])
def test_registration_is_refused_unless_the_sector_document_lists_every_redirect_uri(
        make_node, sector_host, document, content_type, message):
    node = make_node()
    with pytest.raises(ClientRegistrationError, match=message):
        _register_with_sector(node, sector_host, document, content_type)
    assert stored(node.engine) == []


def test_registration_is_refused_when_the_sector_document_cannot_be_fetched(make_node, sector_host):
    node = make_node()
    with pytest.raises(ClientRegistrationError, match="could not be read: the server answered HTTP 404"):
        _register_with_sector(node, sector_host, None)
    assert stored(node.engine) == []


def test_private_key_jwt_client_registers_public_keys_only(make_node):
    node = make_node()
    key = keys.generate("ES256")
    ctx = context(node)
    with pytest.raises(ClientRegistrationError, match="private"):
        private = {**key.public_jwk(), "d": "AAAA"}
        register_client(ctx, ClientRegistration(name="Hub", redirect_uris=["https://hub.example/cb"],
                                                auth_method="private_key_jwt", jwks=[private]), "test")
    row, secret = register_client(ctx, ClientRegistration(name="Hub", redirect_uris=["https://hub.example/cb"],
                                                          auth_method="private_key_jwt", jwks=[key.public_jwk()]),
                                  "test")
    assert secret is None and row.secret_hash is None


@pytest.fixture
def admin_browser(live_node):
    live = live_node()
    seed_member(live.node.engine, email="admin@ecole.example", password=PASSWORD, is_admin=True)
    return live, flow.browser(live, "admin@ecole.example")


def test_admin_page_registers_a_platform_and_shows_the_secret_once(admin_browser):
    live, browser = admin_browser
    page = browser.get("/admin/clients", headers=HTML)
    assert page.status_code == 200
    created = browser.post("/admin/clients", headers=HTML, data={
        "csrf_token": csrf_of(page), "name": "Job board", "redirect_uris": "https://jobs.example/cb\n",
        "auth_method": "client_secret_post", "subject_type": "pairwise", "id_token_alg": "EdDSA"})
    assert created.status_code == 200
    secret = re.search(r'id="client-secret">([^<]+)<', created.text).group(1)
    [row] = stored(live.node.engine)
    assert row.secret_hash == secret_hash(secret) and row.created_by != "cli"
    listing = browser.get("/admin/clients", headers=HTML).text
    assert "Job board" in listing and secret not in listing


def test_admin_page_refuses_bad_input_with_a_message_and_stores_nothing(admin_browser):
    live, browser = admin_browser
    page = browser.get("/admin/clients", headers=HTML)
    response = browser.post("/admin/clients", headers=HTML, data={
        "csrf_token": csrf_of(page), "name": "Bad", "redirect_uris": "https://jobs.example/cb#x"})
    assert response.status_code == 400 and "fragment" in response.text
    assert stored(live.node.engine) == []


def test_admin_page_needs_csrf_and_an_admin(admin_browser):
    live, browser = admin_browser
    assert browser.post("/admin/clients", headers=HTML, data={"name": "x", "redirect_uris": "https://a.b/c"}
                        ).status_code == 403
    member = flow.member_with_password(live)
    plain = flow.browser(live, member.email)
    assert plain.get("/admin/clients", headers=HTML).status_code == 403
    assert stored(live.node.engine) == []


def test_disabled_client_cannot_authorize_and_its_tokens_stop(admin_browser):
    live, browser = admin_browser
    member = flow.member_with_password(live)
    platform = flow.register(live)
    member_browser = flow.browser(live, member.email)
    tokens = flow.tokens_for(live, member_browser, platform)
    page = browser.get("/admin/clients", headers=HTML)
    browser.post(f"/admin/clients/{platform.client_id}/disable", data={"csrf_token": csrf_of(page)}, headers=HTML)
    assert flow.userinfo(live, tokens["access_token"]).status_code == 401
    refused = member_browser.get("/authorize", params=flow.auth_params(platform, flow.Pkce()), headers=HTML)
    assert refused.status_code == 400 and "location" not in refused.headers


def test_discovery_advertises_exactly_what_the_provider_does(live_node):
    live = live_node()
    with live.client() as http:
        metadata = http.get("/.well-known/openid-configuration").json()
    assert metadata["issuer"] == live.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["subject_types_supported"]) == {"pairwise", "public"}
    assert "affiliations" in metadata["scopes_supported"]
    assert set(metadata["id_token_signing_alg_values_supported"]) == {"ES256", "RS256", "EdDSA"}
    assert "none" not in json.dumps(metadata["id_token_signing_alg_values_supported"])
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert metadata["request_parameter_supported"] is False and metadata["request_uri_parameter_supported"] is False
    assert metadata["authorization_response_iss_parameter_supported"] is True
    algs = {k["alg"] for k in http_get_jwks(live)}
    assert {"ES256", "RS256", "EdDSA"} <= algs


def http_get_jwks(live):
    with live.client() as http:
        return http.get("/.well-known/jwks.json").json()["keys"]
