"""Verbatim JSON-LD contexts, bundled so that no node ever fetches a context from the network.

This is a package only so that the ``.jsonld`` files and ``index.json`` ship as package data; read them through
:mod:`schemas.loader`.
"""
