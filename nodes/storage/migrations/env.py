"""Alembic environment: the engine comes from the caller (``nodes.storage.db.upgrade``), never from a file."""

from alembic import context
from sqlmodel import SQLModel

from nodes.storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
