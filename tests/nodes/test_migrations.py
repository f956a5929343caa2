"""The Alembic migrations build the schema the SQLModel tables describe, on SQLite and PostgreSQL: a column, an
index or a constraint added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

import warnings

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import nodes.storage.credential_tables
import nodes.storage.models
import nodes.storage.oidc_tables  # noqa: F401  (the tables register themselves in SQLModel.metadata)
from nodes.storage.db import alembic_config, upgrade


def _schema_differences(engine) -> list:
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (ix_oidc_token_usable_until); PostgreSQL compares them.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)


def test_the_migrated_database_matches_the_models(make_node):
    assert _schema_differences(make_node().engine) == []


def _index_names(engine, table: str) -> set[str]:
    """Read from the catalog, not SQLAlchemy's inspector: the inspector skips SQLite's expression indexes."""
    catalog = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
               if engine.dialect.name == "sqlite" else "SELECT indexname FROM pg_indexes WHERE tablename = :table")
    with engine.connect() as connection:
        return set(connection.execute(text(catalog), {"table": table}).scalars())


def test_every_migration_goes_down_to_the_first_and_back_up_to_the_same_schema(make_node):
    """Each downgrade undoes its upgrade: going down to the first schema and up again gives the models' schema and
    the same indexes (SQLite's table rebuilds lose what it cannot reflect, such as an expression index)."""
    node = make_node()
    indexes = _index_names(node.engine, "oidc_token")
    assert "ix_oidc_token_usable_until" in indexes
    command.downgrade(alembic_config(node.engine), "0001")
    upgrade(node.engine)
    assert _index_names(node.engine, "oidc_token") == indexes
    assert _schema_differences(node.engine) == []
