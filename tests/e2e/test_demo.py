"""``./run demo``: the example nodes and the demo platform start with seeded data, stop cleanly on Ctrl-C and keep
their data (the platform keeps its client registration at each node). The seeded members hold their affiliation
credentials, issued once: a member who claims their account and signs in to Alumni Hub sees them verified, and a
second start issues none again."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import Session, col, select

from nodes.demo import EXAMPLES
from nodes.settings import load_settings
from nodes.storage.credential_tables import IssuedCredential
from nodes.storage.db import make_engine
from nodes.storage.models import Member
from tests.conftest import free_port
from tests.e2e.browsing import HTML, csrf_of
from tests.e2e.platform_support import sign_in_through_platform
from tests.seed import PASSWORD

SEEDED = "camille.martin@example.org"  # first on the school's roster: the first start invites her


def _start(data_root, ports):
    return subprocess.Popen(
        [sys.executable, "-m", "nodes.demo", "--data-root", str(data_root), "--ports", *map(str, ports)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def _read_banner(process) -> str:
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    process.kill()
    raise AssertionError("the demo did not print its banner:\n" + "".join(lines))


def _wait_healthy(url):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def _client_id(location: str) -> str:
    return parse_qs(urlsplit(location).query)["client_id"][0]


def _stop(process) -> str:
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    return rest


def _platform_sends_to(platform: str, network: str) -> str:
    """Where "Sign in with <network>" on the platform sends the browser: the node's authorization endpoint."""
    answer = httpx.get(f"{platform}/login/{network}", timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _credentials(data_root, stem: str) -> dict[str, int]:
    """Live affiliation credentials per member e-mail, read from the demo node's own database."""
    settings = load_settings(EXAMPLES / f"{stem}.toml", data_dir=str(data_root / stem))
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as db:
            rows = db.exec(select(Member.email, IssuedCredential.id)
                           .join(Member, col(Member.id) == IssuedCredential.member_id)
                           .where(IssuedCredential.state == "active")).all()
    finally:
        engine.dispose()
    counts: dict[str, int] = {}
    for email, _ in rows:
        counts[email] = counts.get(email, 0) + 1
    return counts


def _claim_and_sign_in_to_the_platform(invitation: str, platform: str) -> str:
    """Claim the printed invitation at the school, then "Sign in with École Exemple" on Alumni Hub; the page."""
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(invitation, headers=HTML)
        assert SEEDED in page.text
        form = {"csrf_token": csrf_of(page), "password": PASSWORD, "password_confirm": PASSWORD}
        assert http.post(invitation, data=form, headers=HTML).status_code == 200  # on to the member's page
        return sign_in_through_platform(http, SimpleNamespace(url=platform), "ecole-exemple", SEEDED).text


@pytest.fixture
def demos():
    """The demo processes a test starts; any still running when it ends (a failed assertion) is killed."""
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)


def test_demo_starts_both_nodes_with_seeded_data_and_restarts_without_losing_it(tmp_path, demos):
    ports = [free_port(), free_port(), free_port()]
    first = _start(tmp_path, ports)
    demos.append(first)
    banner = _read_banner(first)
    school, company, platform = (f"http://localhost:{p}" for p in ports)
    assert banner.index(platform) < banner.index(school)  # the platform is where a visitor starts
    for url in (platform, school, company):
        assert url in banner
        _wait_healthy(url)
    sends = {network: _platform_sends_to(platform, network) for network in ("ecole-exemple", "acme")}
    assert sends["ecole-exemple"].startswith(school + "/authorize?")
    assert sends["acme"].startswith(company + "/authorize?")
    with httpx.Client(base_url=school) as http:  # the registration is live at the node: the request is valid
        assert http.get(sends["ecole-exemple"].removeprefix(school)).status_code == 303  # on to sign-in
    admins = re.findall(r"admin login\s+(\S+) / (\S+)", banner)
    invitations = re.findall(r"member invitation\s+(http://localhost:\d+/claim/\S+)", banner)
    assert len(admins) == 2 and len(invitations) == 2
    # The invitation link works and the admin can sign in with the printed password.
    with httpx.Client(base_url=school, follow_redirects=False) as http:
        assert http.get(invitations[0].removeprefix(school)).status_code == 200
        page = http.get("/signin").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        signed = http.post("/signin", data={"email": admins[0][0], "password": admins[0][1], "csrf_token": csrf})
        assert signed.status_code == 303
    # The seeded members hold their credentials, and Alumni Hub verifies them for the member who signs in.
    issued = {stem: _credentials(tmp_path, stem) for stem in ("ecole-exemple", "acme")}
    assert issued["ecole-exemple"][SEEDED] == 2 and issued["acme"][SEEDED] == 2
    assert sum(issued["ecole-exemple"].values()) == 7 and sum(issued["acme"].values()) == 6  # one per roster row
    assert re.findall(r"credentials\s+(\d+) affiliation credentials", banner) == ["7", "6"]
    page = _claim_and_sign_in_to_the_platform(invitations[0], platform)
    assert "Welcome, Camille Martin" in page
    assert page.count("Verified:") == 2 and "Not verified" not in page and "No verifiable credential" not in page
    assert "<dt>Issued to</dt><dd>Camille Martin</dd>" in page
    assert "demo stopped" in _stop(first)

    second = _start(tmp_path, ports)
    demos.append(second)
    banner_again = _read_banner(second)
    try:
        assert re.findall(r"admin login\s+(\S+) / (\S+)", banner_again) == admins
        _wait_healthy(platform)
        again = _platform_sends_to(platform, "ecole-exemple")
        assert _client_id(again) == _client_id(sends["ecole-exemple"])  # the same registration, reused
        assert re.findall(r"credentials\s+(\d+) affiliation credentials", banner_again) == ["0", "0"]
        assert {stem: _credentials(tmp_path, stem) for stem in ("ecole-exemple", "acme")} == issued  # no duplicate
    finally:
        _stop(second)
