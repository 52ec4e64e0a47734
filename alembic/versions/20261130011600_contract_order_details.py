"""Finish renaming orders.metadata to orders.details (contract).

Intent: the code that writes only "details" is deployed everywhere, so "metadata" and the trigger that kept it
in step go, and "details" becomes NOT NULL as "metadata" was.

Risk: a contract revision: it drops a column the previous release used, so it runs after the new code is
deployed (`alembic -x phase=expand upgrade head` stops before it). SET NOT NULL is proven by a CHECK
validated beforehand, so it scans nothing under its lock.

Revision ID: 9e4f6a1c2d87
Revises: 5c1d2e9a7b30
Create Date: 2026-11-30 01:16:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9e4f6a1c2d87"
down_revision: str | Sequence[str] | None = "5c1d2e9a7b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
phase = "contract"

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.set_not_null_online("orders", "details")
    op.contract_column("orders", "metadata", "details", type_=JSON)


def downgrade() -> None:
    op.expand_column("orders", "details", "metadata", type_=JSON)
    op.set_not_null_online("orders", "metadata")
    op.drop_not_null_online("orders", "details")
