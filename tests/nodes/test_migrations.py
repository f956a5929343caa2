"""The Alembic migrations build the schema the SQLModel tables describe, on SQLite and PostgreSQL: a column, an
index or a constraint added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import nodes.storage.credential_tables
import nodes.storage.models
import nodes.storage.oidc_tables  # noqa: F401  (the tables register themselves in SQLModel.metadata)


def test_the_migrated_database_matches_the_models(make_node):
    node = make_node()
    with node.engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (ix_oidc_token_usable_until); PostgreSQL compares them.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
