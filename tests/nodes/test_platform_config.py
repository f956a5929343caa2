"""Alumni Hub's configuration file: what ./run demo reads, refusing what it does not understand."""

from __future__ import annotations

import pytest

from nodes.examples.platform.config import (
    PlatformConfigError,
    load_platform_config,
    read_client,
    write_client,
)
from nodes.examples.platform.demo_setup import CONFIG

NETWORK = '[[networks]]\nkey = "school"\nname = "École"\nissuer = "{issuer}"\n'


def _write(tmp_path, text: str):
    path = tmp_path / "platform.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_configuration_names_both_demo_networks():
    config = load_platform_config(CONFIG)
    assert config.base_url == "http://localhost:8400"
    assert [(n.key, n.issuer) for n in config.networks] == [
        ("ecole-exemple", "http://localhost:8401"), ("acme", "http://localhost:8402")]


def test_unknown_setting_is_refused_by_name(tmp_path):
    path = _write(tmp_path, 'display_name = "Hub"\nbase_url = "https://hub.example"\ncolour = "red"\n')
    with pytest.raises(PlatformConfigError, match="colour"):
        load_platform_config(path)


@pytest.mark.parametrize("issuer", ["http://school.example", "https://school.example/", "https://school.example/x"])
def test_issuer_must_be_an_https_origin(tmp_path, issuer):
    path = _write(tmp_path, 'display_name = "Hub"\nbase_url = "https://hub.example"\n' + NETWORK.format(issuer=issuer))
    with pytest.raises(PlatformConfigError, match="issuer"):
        load_platform_config(path)


def test_stored_client_is_used_only_for_the_issuer_and_redirect_uri_it_was_issued_for(tmp_path):
    text = 'display_name = "Hub"\nbase_url = "http://localhost:9400"\ndev_mode = true\ndata_dir = "data"\n'
    path = _write(tmp_path, text + NETWORK.format(issuer="http://localhost:9401"))
    write_client(tmp_path / "data", "school", {"issuer": "http://localhost:9401", "client_id": "abc",
                                               "redirect_uri": "http://localhost:9400/callback/school",
                                               "client_secret": "s3cret"})
    assert (tmp_path / "data" / "clients" / "school.json").stat().st_mode & 0o777 == 0o600
    assert load_platform_config(path).networks[0].client_id == "abc"
    moved = load_platform_config(path, base_url="http://localhost:9500")  # another port: another redirect URI
    assert not moved.networks[0].registered
    assert read_client(tmp_path / "data", "school")["client_id"] == "abc"
