from tests.nodes import oidc_flow as f

def test_smoke(live_node):
    live = live_node()
    f.member_with_password(live)
    platform = f.register(live)
    b = f.browser(live, "alice@ecole.example")
    tokens = f.tokens_for(live, b, platform, "openid profile email offline_access", ["name", "email", "offline_access"])
    print(tokens)
    r = f.userinfo(live, tokens["access_token"])
    print(r.status_code, r.text)
    assert r.status_code == 200
    r = f.token_request(live, platform, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    print(r.status_code, r.text)
    assert r.status_code == 200
    with live.client() as h:
        print(h.get("/.well-known/openid-configuration").json())
