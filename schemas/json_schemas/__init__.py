"""JSON Schemas (draft 2020-12) of the Passerelle credential types.

A package only so that the ``.schema.json`` files ship as package data; read them through
:func:`schemas.loader.load_json_schema`.
"""
