"""Add order numbers: the natural key people (and seed fixtures) use for an order.

Intent: orders.number, unique and NOT NULL. Existing orders get a number derived from their id, which is
unique, so the constraint holds from the start.

Risk: the backfill rewrites every order (and refreshes updated_at); SET NOT NULL and the unique constraint
lock the table while they scan and build. Fine for the demo's small table. On a large, busy table, backfill
in batches, add CHECK (number IS NOT NULL) NOT VALID and VALIDATE it before SET NOT NULL, and build the
unique index CONCURRENTLY before adding the constraint with USING INDEX.

Revision ID: 07b811cddec6
Revises: 40914a7093c0
Create Date: 2026-11-21 19:49:48.161426+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "07b811cddec6"
down_revision: str | Sequence[str] | None = "40914a7093c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable first, so the rows already there stay valid until they have a number.
    op.add_column("orders", sa.Column("number", sa.String(length=40), nullable=True))
    # The id's 32 hex digits: unique, and the same SQL on PostgreSQL (uuid) and SQLite (hex text).
    op.execute("UPDATE orders SET number = 'SO-' || upper(replace(CAST(id AS TEXT), '-', ''))")
    # The demo's orders table is small, so the locks taken below are brief (see Risk above):
    # schemakit: allow adding-not-nullable-field, constraint-missing-not-valid -- small table, brief lock
    # schemakit: allow disallowed-unique-constraint -- small table, brief lock
    with op.batch_alter_table("orders") as batch_op:
        batch_op.alter_column("number", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_orders_number"), ["number"])
    # On SQLite the batch above copied the table without its trigger; elsewhere this changes nothing.
    op.create_updated_at_trigger("orders")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_orders_number"), type_="unique")
        batch_op.drop_column("number")
    op.create_updated_at_trigger("orders")
