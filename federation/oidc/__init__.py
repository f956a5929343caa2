"""The OpenID Connect provider core (pure): scopes and claims, consent, pairwise subjects, ID tokens, and authlib's
grants and endpoints wired to the storage protocols of :mod:`federation.oidc.store`.

The node (``nodes/oidc/``) implements the store, reads HTTP requests and serves the pages; nothing here imports a
web framework, an ORM or the node.
"""
