"""Pure credential library: keys, DID documents, Data Integrity proofs, Verifiable Credentials, status lists.

This room never imports the web framework, the ORM or the node's settings; callers pass in what it needs.
"""
