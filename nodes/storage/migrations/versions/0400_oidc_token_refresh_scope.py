"""oidc_token: the refresh token's own scope and claims, where a narrowed refresh gave the access token less

A refresh grant asking for a narrower scope narrows the access token it issues; the refresh token issued with it
keeps the grant's scope and claims (RFC 6749 §6). Both columns are NULL when they equal ``scope`` and ``claims``,
which is every row written before this migration.

Revision ID: 0400
Revises: 0300
Create Date: 2026-11-27 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0400'
down_revision = '0300'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oidc_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refresh_scope', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('refresh_claims', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), not a batch: SQLite's batch rebuilds the table from what it
    # can reflect, and it cannot reflect 0300's expression index, which would be lost.
    op.drop_column('oidc_token', 'refresh_claims')
    op.drop_column('oidc_token', 'refresh_scope')
