"""Alumni Hub, the demo platform: an OpenID Connect relying party of the example school and company nodes.

It stands for any third-party alumni app. It talks to the nodes only over HTTP, as a stranger would: discovery,
the authorization code flow with PKCE (S256), ``state`` and ``nonce`` through authlib's Starlette client, ID tokens
checked against the provider's ``jwks_uri``, then UserInfo. The affiliation credentials it receives are verified
with the :mod:`credentials` library against the issuer's ``did:web`` document. Build it with
:func:`nodes.examples.platform.app.create_platform_app`; ``./run demo`` registers and serves it on port 8400.
"""
