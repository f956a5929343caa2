"""The node's OpenID Connect provider: the store on SQL tables, the FastAPI adapter, the routes and pages.

The protocol itself lives in :mod:`federation.oidc`; this package only stores, serves and renders.
"""
