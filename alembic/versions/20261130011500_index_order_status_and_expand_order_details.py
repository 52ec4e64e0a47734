"""Index orders by status, and start renaming orders.metadata to orders.details (expand).

Intent: the order list filters by status, so it gets an index; and the JSON column "metadata" becomes
"details", a name the model can use as its attribute ("metadata" is reserved on declarative classes).

Risk: none for a busy orders table. Each step takes its strong lock for at most DB_ONLINE_LOCK_TIMEOUT_MS at a
time, retrying with backoff: the index is built CONCURRENTLY, "details" is added nullable, a trigger keeps the
two columns in step whichever one the running code writes, and the existing rows are copied in short batches
that leave updated_at alone. The code of the previous release keeps working; the next revision, a contract
revision, drops "metadata" once no running code uses it.

Revision ID: 5c1d2e9a7b30
Revises: 07b811cddec6
Create Date: 2026-11-30 01:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c1d2e9a7b30"
down_revision: str | Sequence[str] | None = "07b811cddec6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_index_online(op.f("idx_orders_status"), "orders", ["status"], unique=False)
    op.expand_column("orders", "metadata", "details", type_=JSON)


def downgrade() -> None:
    op.undo_expand_column("orders", "metadata", "details")
    op.drop_index_online(op.f("idx_orders_status"), table_name="orders")
