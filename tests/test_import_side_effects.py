"""Importing schemakit changes nothing in SQLAlchemy until a schemakit model asks for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PRINT_SERVER_OBJECTS = """
from sqlalchemy import text

def print_server_objects(engine):
    with engine.connect() as connection:
        functions = connection.scalars(
            text("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
        ).all()
        triggers = connection.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).all()
    print(sorted(functions + triggers))
"""


def run_isolated(code: str) -> str:
    """Run ``code`` in a fresh interpreter, so no model mapped by another test is registered."""
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SERVER_OBJECTS + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


ON_POSTGRES = pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])


@ON_POSTGRES
def test_a_plain_metadata_create_all_creates_nothing_of_schemakit(empty_database_url: str) -> None:
    objects = run_isolated(
        f"""
        import schemakit, schemakit.migrations, schemakit.seeding, schemakit.gates
        from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine

        metadata = MetaData()
        Table("things", metadata, Column("id", Integer, primary_key=True), Column("updated_at", DateTime))
        engine = create_engine({empty_database_url!r})
        metadata.create_all(engine)
        print_server_objects(engine)
        """
    )
    assert objects == "[]"


@ON_POSTGRES
def test_a_schemakit_model_brings_its_functions_and_trigger(empty_database_url: str) -> None:
    objects = run_isolated(
        f"""
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Mapped
        from schemakit import Entity

        class Thing(Entity):
            __tablename__ = "things"
            name: Mapped[str]

        engine = create_engine({empty_database_url!r})
        Entity.metadata.create_all(engine)
        print_server_objects(engine)
        """
    )
    assert objects == "['schemakit_set_updated_at', 'schemakit_uuid7', 'trg_things_updated_at']"


def test_importing_schemakit_adds_no_session_listener() -> None:
    listeners = run_isolated(
        """
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        import schemakit, schemakit.migrations, schemakit.seeding, schemakit.gates
        from schemakit.mixins import soft_delete

        print(event.contains(Session, "do_orm_execute", soft_delete._hide_soft_deleted))
        """
    )
    assert listeners == "False"


def test_the_first_soft_deletable_model_adds_the_filter_once() -> None:
    listeners = run_isolated(
        """
        from sqlalchemy import event
        from sqlalchemy.orm import Mapped, Session
        from schemakit import Entity, SoftDeleteMixin
        from schemakit.mixins import soft_delete

        class Thing(Entity, SoftDeleteMixin):
            __tablename__ = "things"

        class Other(Entity, SoftDeleteMixin):
            __tablename__ = "others"

        registered = event.contains(Session, "do_orm_execute", soft_delete._hide_soft_deleted)
        print(len(list(Session().dispatch.do_orm_execute)), registered)
        """
    )
    assert listeners == "1 True"


def test_alembic_starts_without_the_orm_the_tools_of_long_operations_or_an_unused_dialect() -> None:
    # Every `alembic` command imports schemakit.migrations from env.py: what it loads is start-up time paid by
    # each command (docs/benchmarks.md, the migration environment's cost through the command).
    loaded = run_isolated(
        """
        import sys
        import schemakit.migrations
        heavy = ("sqlalchemy.orm", "sqlalchemy.ext.asyncio", "tenacity", "tqdm", "pgvector", "redis", "paracelsus")
        heavy += ("sqlalchemy.dialects.sqlite",)  # a PostgreSQL project's commands never need it
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    assert loaded == "[]"
