"""oidc_consent, oidc_code, oidc_token: the member's connection to the platform each was issued under

A consent given again after a disconnection draws a new connection; a code or token of an earlier one is refused,
however late a request that read the consent before the disconnection wrote it (ADR 0100). Every row written
before this migration holds 0, so live consents keep their codes and tokens.

Revision ID: 0500
Revises: 0400
Create Date: 2026-11-27 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0500'
down_revision = '0400'
branch_labels = None
depends_on = None

_TABLES = ('oidc_consent', 'oidc_code', 'oidc_token')


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, not a batch: SQLite's batch would rebuild oidc_token from what it can
    # reflect and lose 0300's expression index.
    for table in _TABLES:
        op.add_column(table, sa.Column('connection', sa.BigInteger(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_column(table, 'connection')
