"""Search products by name and description.

Intent: the catalogue gets a search box. Products gain a description, and a generated search_vector (name
weighted above description) with a GIN index; on SQLite, an FTS5 table kept in step by triggers instead.

Risk: adding a stored generated column rewrites products under an exclusive lock while every row's vector is
computed; the catalogue is small (thousands of rows, milliseconds). On a large table, schedule it. The
description is added nullable, and the index is built concurrently.

Revision ID: 2f66f3301681
Revises: a3fc1a937de9
Create Date: 2026-11-30 04:17:55.359769+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schemakit.search.document import search_computed, search_vector_type

revision: str = "2f66f3301681"
down_revision: str | Sequence[str] | None = "a3fc1a937de9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column_online("products", sa.Column("description", sa.Text(), nullable=True))
    # schemakit: allow adding-field-with-default -- a generated column is computed in a rewrite; products is small
    op.add_column_online(
        "products",
        sa.Column(
            "search_vector", search_vector_type(), search_computed({"name": "A", "description": "B"}), nullable=False
        ),
    )
    op.create_index_online(
        op.f("idx_products_search_vector"), "products", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_search_index("products", key="id", columns={"name": "A", "description": "B"})


def downgrade() -> None:
    op.drop_search_index("products", key="id", columns={"name": "A", "description": "B"})
    op.drop_index_online(op.f("idx_products_search_vector"), table_name="products", postgresql_using="gin")
    op.drop_column_online("products", "search_vector")
    op.drop_column_online("products", "description")
