"""oidc_token: housekeeping's index (when a row stops being usable) replaces the access-expiry index

Housekeeping (nodes/housekeeping.py) deletes the token rows whose refresh token, or else access token, expired a day
ago. An index on that moment lets it read only those rows; the index on the access token's expiry alone, which
nothing else read, would have made it walk every row whose access token had expired, most of the table.

Revision ID: 0300
Revises: 0200
Create Date: 2026-11-26 21:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0300'
down_revision = '0200'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_oidc_token_access_expires_at', table_name='oidc_token')
    op.create_index('ix_oidc_token_usable_until', 'oidc_token',
                    [sa.text('coalesce(refresh_expires_at, access_expires_at)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_oidc_token_usable_until', table_name='oidc_token')
    op.create_index('ix_oidc_token_access_expires_at', 'oidc_token', ['access_expires_at'], unique=False)
