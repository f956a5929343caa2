"""Data, not code: bundled JSON-LD contexts and JSON Schemas, with a tiny loader."""
