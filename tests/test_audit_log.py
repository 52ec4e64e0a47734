"""The audit log on SQLite and PostgreSQL: every way of writing is recorded, with its actor, and chained."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import JSON, Engine, String, delete, insert, inspect, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from schemakit import (
    TYPE_ANNOTATION_MAP,
    DatabaseSettings,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    acting_as,
    make_async_engine,
    make_engine,
    make_metadata,
    utc_now,
)
from schemakit.audit_log.reading import changes_between, changes_between_async, history, history_async
from schemakit.audit_log.verify import prune, verify_chain
from schemakit.cli import main
from schemakit.migrations import downgrade, upgrade, with_options
from schemakit.mixins.audit_trail import AuditTrailMixin
from schemakit.seeding import load_fixtures, seed
from tests.projects import configure, copy_project


class AuditBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Note(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, AuditTrailMixin, AuditBase):
    __tablename__ = "notes"
    title: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[str | None] = mapped_column(String(200))


class Counter(AuditTrailMixin, AuditBase):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int]


class Setting(TimestampMixin, SoftDeleteMixin, AuditTrailMixin, AuditBase):
    """Columns of several kinds, one of a type without equality on PostgreSQL (json)."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int]
    options: Mapped[dict[str, object] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(40))


class OddName(AuditTrailMixin, AuditBase):
    """A table whose name needs quoting, both as an identifier and as a string."""

    __tablename__ = 'it\'s "odd"'
    name: Mapped[str] = mapped_column(String(40), primary_key=True)


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))
    AuditBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


def entries(engine: Engine) -> list[tuple[str, str, str | None, list[str]]]:
    """(table, action, actor, changed columns) of every entry, in order."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT table_name, action, actor, changes FROM audit_logs ORDER BY id"))
        return [(table, action, actor, sorted(_json(changes))) for table, action, actor, changes in rows]


def _json(value: object) -> dict[str, object]:
    import json

    return value if isinstance(value, dict) else json.loads(str(value))


def test_orm_writes_are_recorded_with_their_actor_and_action(engine: Engine) -> None:
    with acting_as("ada"), Session(engine) as session:
        note = Note(title="first")
        session.add(note)
        session.commit()
        note.body = "changed"
        session.commit()
        note.deleted_at = utc_now()
        session.commit()
        note.deleted_at = None
        session.commit()
        session.delete(note)
        session.commit()
    recorded = entries(engine)
    assert [(action, actor) for _, action, actor, _ in recorded] == [
        ("insert", "ada"),
        ("update", "ada"),
        ("soft_delete", "ada"),
        ("restore", "ada"),
        ("delete", "ada"),
    ]
    assert recorded[1][3] == ["body"]
    assert "title" in recorded[0][3]
    with engine.connect() as connection:
        assert verify_chain(connection).intact


def test_a_table_whose_name_needs_quoting_is_recorded_under_its_name(engine: Engine) -> None:
    with acting_as("ada"), Session(engine) as session:
        row = OddName(name="first")
        session.add(row)
        session.commit()
        session.delete(row)
        session.commit()
    assert [(table, action) for table, action, _, _ in entries(engine)] == [
        ('it\'s "odd"', "insert"),
        ('it\'s "odd"', "delete"),
    ]
    with engine.connect() as connection:
        assert verify_chain(connection).intact


def test_bulk_statements_upserts_and_raw_sql_record_exactly_the_rows_changed(engine: Engine, dialect: str) -> None:
    with acting_as("batch-job"), engine.begin() as connection:
        connection.execute(insert(Counter), [{"name": f"c{i}", "value": i} for i in range(10)])
        connection.execute(update(Counter).where(Counter.value < 3).values(value=Counter.value + 100))
        connection.execute(update(Counter).where(Counter.value == 5).values(value=5))  # no change: nothing recorded
        connection.execute(delete(Counter).where(Counter.value > 8, Counter.value < 100))
        upsert = (postgresql if dialect == "postgresql" else sqlite).insert(Counter).values(name="c4", value=44)
        connection.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"value": 44}))
    with Session(engine) as session, acting_as("orm-bulk"):
        session.execute(update(Counter).where(Counter.name == "c3").values(value=33))
        session.commit()
    with engine.begin() as connection:
        connection.execute(text("UPDATE counters SET value = value + 1 WHERE name = 'c5'"))
    recorded = [(action, actor) for _, action, actor, _ in entries(engine)]
    assert recorded == (
        [("insert", "batch-job")] * 10
        + [("update", "batch-job")] * 3
        + [("delete", "batch-job")]
        + [("update", "batch-job"), ("update", "orm-bulk"), ("update", None)]
    )
    with engine.connect() as connection:
        assert [e.changes for e in history(connection, Counter, "c4")][-1] == {"value": [4, 44]}
        assert verify_chain(connection).intact


def test_one_row_and_bulk_statements_record_the_same_entries(engine: Engine) -> None:
    # One row and many rows take different paths on PostgreSQL (a generic statement, and one written for the
    # table's columns): the same change must read the same either way.
    def change(names: list[str], statement: Callable[[list[str]], object]) -> None:
        with acting_as("ada"), engine.begin() as connection:
            connection.execute(statement(names))  # type: ignore[arg-type]

    def values(name: str) -> dict[str, object]:
        return {"name": name, "value": 1, "options": {"a": [1, 2]}, "note": None}

    steps: list[Callable[[list[str]], object]] = [
        lambda names: insert(Setting).values([values(name) for name in names]),
        lambda names: update(Setting).where(Setting.name.in_(names)).values(value=2, options={"a": [3]}),
        lambda names: update(Setting).where(Setting.name.in_(names)).values(note="x"),
        lambda names: update(Setting).where(Setting.name.in_(names)).values(deleted_at=utc_now()),
        lambda names: update(Setting).where(Setting.name.in_(names)).values(deleted_at=None),
        lambda names: delete(Setting).where(Setting.name.in_(names)),
    ]
    for step in steps:
        change(["one"], step)
        change(["many-1", "many-2"], step)
    with engine.connect() as connection:
        one, many = history(connection, Setting, "one"), history(connection, Setting, "many-1")
    assert [entry.action for entry in one] == ["insert", "update", "update", "soft_delete", "restore", "delete"]
    assert [(e.action, _without_times(e.changes)) for e in many] == [(e.action, _without_times(e.changes)) for e in one]
    assert one[1].changes == {"value": [1, 2], "options": [{"a": [1, 2]}, {"a": [3]}]}
    assert one[2].changes == {"note": [None, "x"]}


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_postgresql_records_a_column_added_after_its_triggers(engine: Engine) -> None:
    # Both PostgreSQL paths read the table's columns when they run: nothing to re-create after a column change.
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE counters ADD COLUMN colour text"))
        connection.execute(insert(Counter).values([{"name": "a", "value": 1}, {"name": "b", "value": 2}]))
        connection.execute(text("UPDATE counters SET colour = 'red'"))
        connection.execute(text("UPDATE counters SET colour = 'blue' WHERE name = 'a'"))
        connection.execute(text("ALTER TABLE counters DROP COLUMN colour"))
        connection.execute(text("UPDATE counters SET value = value + 1"))
    with engine.connect() as connection:
        changes = [entry.changes for entry in history(connection, Counter, "a")]
        assert verify_chain(connection).intact
    assert changes[1:] == [{"colour": [None, "red"]}, {"colour": ["red", "blue"]}, {"value": [1, 2]}]


def _without_times(changes: dict[str, object]) -> dict[str, object]:
    return {
        column: value
        for column, value in changes.items()
        if column not in {"name", "created_at", "updated_at", "deleted_at"}
    }


def test_an_entry_edited_inside_a_bulk_statements_batch_is_named(engine: Engine, dialect: str) -> None:
    with acting_as("ada"), engine.begin() as connection:
        connection.execute(insert(Counter).values([{"name": f"c{i}", "value": i} for i in range(50)]))
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_logs SET changes = changes WHERE id = 7"))  # rewritten unchanged
        assert verify_chain(connection).intact
        connection.execute(text("UPDATE audit_logs SET row_id = 'c999' WHERE id = 17"))
        report = verify_chain(connection)
    assert report.batches == (1 if dialect == "postgresql" else 50)  # SQLite: a batch a row
    assert report.problem is not None
    assert "entry 17 was changed" in report.problem


def test_a_rolled_back_transaction_records_nothing(engine: Engine) -> None:
    with acting_as("ada"), Session(engine) as session:
        session.add(Note(title="kept"))
        session.commit()
        session.add(Note(title="dropped"))
        session.flush()
        session.rollback()
    assert [action for _, action, _, _ in entries(engine)] == ["insert"]
    with engine.connect() as connection:
        assert verify_chain(connection).intact


async def test_concurrent_tasks_each_record_their_own_actor(empty_database_url: str, engine: Engine) -> None:
    async_engine = make_async_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))

    async def write(actor: str) -> None:
        with acting_as(actor):
            async with AsyncSession(async_engine) as session:
                for number in range(5):
                    session.add(Counter(name=f"{actor}-{number}", value=number))
                    await session.commit()
                    await asyncio.sleep(0)

    await asyncio.gather(*(write(f"user-{n}") for n in range(4)))
    async with AsyncSession(async_engine) as session:
        recorded = await changes_between_async(session, utc_now() - timedelta(hours=1), utc_now(), table="counters")
        one = await history_async(session, Counter, "user-2-3")
    await async_engine.dispose()
    assert len(recorded) == 20
    assert all(entry.row_id.startswith(f"{entry.actor}-") for entry in recorded)
    assert [(entry.action, entry.actor) for entry in one] == [("insert", "user-2")]


TAMPERING = {
    "an entry edited": ("UPDATE audit_logs SET actor = 'mallory' WHERE id = 2", "entry 2 was changed"),
    "an entry deleted": ("DELETE FROM audit_logs WHERE id = 2", "entry 2 was deleted"),
    "an entry inserted": (
        "INSERT INTO audit_logs (table_name, row_id, action, actor, changes, hash) "
        "SELECT table_name, row_id, action, 'mallory', changes, hash FROM audit_logs WHERE id = 2",
        "belongs to no batch",
    ),
    "the tail removed": (
        "DELETE FROM audit_batches WHERE id = (SELECT max(id) FROM audit_batches); "
        "DELETE FROM audit_logs WHERE id = (SELECT max(id) FROM audit_logs)",
        "the chain's head records entry 3",
    ),
    "the log truncated": ("DELETE FROM audit_logs; DELETE FROM audit_batches", "the chain's head records entry 3"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_the_verifier_names_the_first_bad_entry(engine: Engine, tampering: str) -> None:
    with acting_as("ada"), Session(engine) as session:
        for title in ("a", "b", "c"):
            session.add(Note(title=title))
            session.commit()
    for _ in range(20):
        with engine.connect() as connection:
            assert verify_chain(connection).intact
    statements, expected = TAMPERING[tampering]
    with engine.begin() as connection:
        for statement in statements.split("; "):
            connection.execute(text(statement))
    with engine.connect() as connection:
        report = verify_chain(connection)
    assert not report.intact
    assert expected in str(report.problem)


def test_pruning_keeps_the_rest_verifiable(engine: Engine) -> None:
    with acting_as("ada"), Session(engine) as session:
        for title in ("old-1", "old-2"):
            session.add(Note(title=title))
            session.commit()
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_logs SET changed_at = '2001-01-01 00:00:00+00:00'"))
    # The edit above changed no hashed field: the log still verifies, and the old entries can go.
    with acting_as("ada"), Session(engine) as session:
        session.add(Note(title="new"))
        session.commit()
    with engine.begin() as connection:
        assert prune(connection, utc_now() - timedelta(days=1)) == 2
    with engine.connect() as connection:
        assert verify_chain(connection).intact
        assert [e.actor for e in changes_between(connection, utc_now() - timedelta(hours=1), utc_now())] == ["ada"]


def test_the_command_verifies_and_names_the_first_bad_entry(
    engine: Engine, empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with acting_as("ada"), Session(engine) as session:
        session.add_all([Note(title="a"), Note(title="b")])
        session.commit()
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_logs SET changes = changes WHERE id = 1"))  # unchanged: still intact
        connection.execute(text("UPDATE audit_logs SET row_id = 'forged' WHERE id = 2"))
    assert main(["audit", "verify"]) == 1
    assert "entry 2 was changed" in capsys.readouterr().out


AUDITED_ENV = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from schemakit import TYPE_ANNOTATION_MAP, AuditTrailMixin, TimestampMixin, UUIDv7PrimaryKeyMixin, make_metadata
from schemakit.migrations import run_migrations


class AppBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Ledger(UUIDv7PrimaryKeyMixin, TimestampMixin, {mixins}AppBase):
    __tablename__ = "ledgers"
    label: Mapped[str] = mapped_column(String(40))


run_migrations(AppBase.metadata)
"""


def test_autogenerate_adds_and_removes_the_triggers_and_the_downgrade_leaves_nothing(
    tmp_path: Path, empty_database_url: str, dialect: str
) -> None:
    project = copy_project(tmp_path / "project")
    for revision in (project / "alembic" / "versions").glob("*.py"):
        revision.unlink()
    (project / "alembic" / "env.py").write_text(AUDITED_ENV.format(mixins="AuditTrailMixin, "))
    config = configure(project, empty_database_url)
    command.revision(config, message="ledgers", autogenerate=True)
    (written,) = (project / "alembic" / "versions").glob("*ledgers.py")
    assert 'op.create_audit_trigger("ledgers", key="id")' in written.read_text()
    upgrade(config)
    engine = make_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO ledgers (label) VALUES ('raw')"))
    assert [action for _, action, _, _ in entries(engine)] == ["insert"]
    (project / "alembic" / "env.py").write_text(AUDITED_ENV.format(mixins=""))
    captured: list[str] = []
    command.revision(with_options(config, capture_revision=captured), autogenerate=True)
    assert 'op.drop_audit_trigger("ledgers", key="id")' in captured[0].replace("'", '"')
    downgrade(config, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        if dialect == "postgresql":
            assert connection.scalar(text("SELECT to_regproc('schemakit_audit')")) is None
            assert connection.scalar(text("SELECT to_regproc('schemakit_audit_statement')")) is None
        else:
            assert connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")) == 0
    engine.dispose()


def test_seeding_is_recorded_with_the_seed_actor(engine: Engine, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    rows = ", ".join(f'{{"name": "seeded-{n}", "value": {n}}}' for n in range(30))
    (fixtures / "counters.json").write_text(f'{{"model": "Counter", "key": ["name"], "rows": [{rows}]}}')
    with engine.connect() as connection:
        seed(connection, load_fixtures(fixtures), mappers=AuditBase.registry)
    recorded = entries(engine)
    assert len(recorded) == 30
    assert {(table, action, actor) for table, action, actor, _ in recorded} == {("counters", "insert", "seed")}
    with engine.connect() as connection:
        assert verify_chain(connection).intact
