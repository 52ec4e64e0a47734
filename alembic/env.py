"""Alembic's entry point: schemakit runs the migrations, configured from DatabaseSettings."""

import example_app.models  # noqa: F401 - registers the tables on Base.metadata
from schemakit import Base
from schemakit.migrations import run_migrations

run_migrations(Base.metadata)
