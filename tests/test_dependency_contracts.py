"""What schemakit relies on beyond SQLAlchemy's, Alembic's and Python's documented API.

Each test pins one such dependency, so an upgrade that changes it fails here, by name, rather than somewhere
far away. The code that relies on it says so in a comment pointing here.
"""

from __future__ import annotations

import copy
import pickle
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Session, registry, sessionmaker

from schemakit.ids import _plain_uuid
from schemakit.seeding.writers import _fill_defaults


def test_uuid_objects_made_without_init_are_ordinary_uuids() -> None:
    assert set(uuid.UUID.__slots__) == {"int", "is_safe", "__weakref__"}
    value = uuid.uuid4().int
    made, parsed = _plain_uuid(value), uuid.UUID(int=value)
    assert made == parsed
    assert hash(made) == hash(parsed)
    assert str(made) == str(parsed)
    assert made.is_safe is parsed.is_safe
    assert made.version == parsed.version
    assert pickle.loads(pickle.dumps(made)) == parsed
    assert copy.deepcopy(made) == parsed


def test_sessionmaker_keeps_configured_arguments_in_kw() -> None:
    # The pytest plugin binds an application's factory to the test's connection and restores it from a copy
    # of .kw, since configure() can add keys but not remove them.
    factory = sessionmaker(class_=Session, expire_on_commit=False)
    before = dict(factory.kw)
    factory.configure(join_transaction_mode="create_savepoint")
    assert factory.kw == {**before, "join_transaction_mode": "create_savepoint"}
    factory.kw.clear()
    factory.kw.update(before)
    with factory() as session:
        assert session.join_transaction_mode != "create_savepoint"


ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

with create_engine("sqlite://").connect() as connection:
    context.configure(connection=connection)
    environment = context.get_context().environment_context
    with open(context.config.attributes["out"], "a") as out:
        out.write(f"{'destination_rev' in environment.context_opts}\\n")
"""


def test_alembic_commands_that_change_the_schema_name_a_destination(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(textwrap.dedent(ENV_PY))
    (tmp_path / "script.py.mako").write_text("")
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    out = tmp_path / "out.txt"
    config.attributes["out"] = str(out)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.stamp(config, "head")
    command.current(config)
    assert out.read_text().split() == ["True", "True", "True", "False"]


def test_a_context_sensitive_default_sees_the_same_row_in_the_seed_loader() -> None:
    def same_as_created(context: DefaultExecutionContext) -> datetime:
        value: datetime = context.get_current_parameters()["created"]  # type: ignore[no-untyped-call]
        return value

    table = Table(
        "events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("created", DateTime),
        Column("changed", DateTime, default=same_as_created),
    )
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).replace(tzinfo=None)
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table).values(id=1, created=created))
        by_insert = connection.scalar(select(table.c.changed))
    engine.dispose()
    by_loader = _fill_defaults({"id": 1, "created": created}, [("changed", table.c.changed.default)])["changed"]
    assert by_insert == by_loader == created


def test_statements_memoize_a_cache_key_that_is_the_same_for_the_same_shape() -> None:
    # The soft-delete filter remembers, by this key, which statement shapes reach a soft-deletable table.
    table = Table("things", MetaData(), Column("id", Integer, primary_key=True))
    first, second = select(table).where(table.c.id == 1), select(table).where(table.c.id == 2)
    key = first._generate_cache_key()
    assert key is not None
    assert first._generate_cache_key() is key
    assert second._generate_cache_key().key == key.key  # type: ignore[union-attr]
    assert select(table.c.id)._generate_cache_key().key != key.key  # type: ignore[union-attr]
    hash(key.key)


def test_a_locking_select_keeps_its_for_update_in_one_attribute() -> None:
    # The routing session sends a SELECT to a replica only when this attribute is None.
    plain = select(Column("x", Integer))
    assert plain._for_update_arg is None
    assert plain.with_for_update()._for_update_arg is not None
    assert plain.with_for_update(read=True)._for_update_arg is not None


def test_get_bind_is_handed_no_clause_for_an_orm_union() -> None:
    # The routing session names an ORM UNION itself (a do_orm_execute listener); when SQLAlchemy starts handing
    # the clause over, the listener can go.
    metadata = MetaData()
    table = Table("items", metadata, Column("id", Integer, primary_key=True))

    class Item:
        pass

    mapping = registry(metadata=metadata)
    mapping.map_imperatively(Item, table)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    seen: list[object] = []

    class Recording(Session):
        def get_bind(self, mapper: object = None, *, clause: object = None, **kw: object) -> object:  # type: ignore[override]
            seen.append(clause)
            return engine

    with Recording() as session:
        session.execute(select(Item).union_all(select(Item)))
    mapping.dispose()
    engine.dispose()
    assert seen == [None]
