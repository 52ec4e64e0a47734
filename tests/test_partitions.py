"""Time-partitioned tables on UUIDv7 ids: real partitions on PostgreSQL (made, pruned, filled from the default
partition, detached, migrated), a plain table with the same queries on SQLite."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Computed, Engine, String, UniqueConstraint, func, insert, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from schemakit import (
    TYPE_ANNOTATION_MAP,
    DatabaseSettings,
    SchemakitError,
    TimePartitionedMixin,
    UUIDv7PrimaryKeyMixin,
    make_engine,
    make_metadata,
)
from schemakit.cli import main, run_check
from schemakit.gates.catalog import application_tables
from schemakit.ids import uuid7
from schemakit.inspection.report import inspect_database
from schemakit.migrations import downgrade, upgrade, with_options
from schemakit.partitioning import (
    created_between,
    detach_partitions,
    ensure_partitions,
    id_bound,
    interval_start,
    maintain_partitions,
    next_start,
    partitions_of,
)
from schemakit.schema_docs.build import database_document, models_document
from tests.projects import configure, copy_project

NOW = datetime.now(UTC)
THIS_MONTH = interval_start(NOW, "month")


class PartitionBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[object, object]] = TYPE_ANNOTATION_MAP


class Event(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, PartitionBase):
    __tablename__ = "events"
    __partitions_kept__ = 2
    kind: Mapped[str] = mapped_column(String(20))
    # Generated: moving rows out of the default partition must leave it to the new partition.
    shout: Mapped[str | None] = mapped_column(String(20), Computed("upper(kind)", persisted=True))


def _id_at(moment: datetime) -> uuid.UUID:
    """A UUIDv7 made at ``moment``, as another process would have made it then."""
    return uuid.UUID(int=id_bound(moment).int | (7 << 76) | (2 << 62) | 12345)


@pytest.fixture
def events(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings.for_url(empty_database_url))
    PartitionBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _partition_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [partition.name for partition in partitions_of(connection, "events")]


def test_ids_of_a_time_range_are_a_range_of_ids() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert id_bound(start) <= _id_at(start) < _id_at(start + timedelta(milliseconds=1))
    assert _id_at(start - timedelta(milliseconds=1)) < id_bound(start)
    made = uuid7()
    assert id_bound(interval_start(NOW, "day")) <= made < id_bound(next_start(interval_start(NOW, "day"), "day"))
    assert next_start(datetime(2026, 12, 1, tzinfo=UTC), "month") == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_start(datetime(2026, 1, 1, tzinfo=UTC), "month", -1) == datetime(2025, 12, 1, tzinfo=UTC)
    assert interval_start(datetime(2026, 11, 29, 15, tzinfo=UTC), "week") == datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(SchemakitError, match="no timezone"):
        id_bound(datetime(2026, 11, 1))


def test_a_time_range_query_finds_the_rows_of_that_range(events: Engine) -> None:
    last_month = next_start(THIS_MONTH, "month", -1)
    with Session(events) as session:
        session.add_all(Event(kind="now") for _ in range(3))
        session.execute(insert(Event), [{"id": _id_at(last_month + timedelta(days=3)), "kind": "last month"}])
        session.commit()
    with Session(events) as session:
        in_this_month = created_between(Event.id, THIS_MONTH, next_start(THIS_MONTH, "month"))
        assert session.scalars(select(Event.kind).where(in_this_month)).all() == ["now"] * 3
        assert session.scalars(select(Event.kind).where(created_between(Event.id, last_month, THIS_MONTH))).all() == [
            "last month"
        ]
        assert session.scalar(select(func.count()).select_from(Event)) == 4


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_the_table_has_partitions_from_this_month_on_and_queries_prune_them(events: Engine) -> None:
    months = [next_start(THIS_MONTH, "month", step) for step in range(4)]
    assert _partition_names(events) == [f"events_p{month:%Y%m}" for month in months] + ["events_default"]
    with Session(events) as session:
        event = Event(kind="now")
        session.add(event)
        session.commit()
        where = session.scalar(text("SELECT tableoid::regclass::text FROM events WHERE id = :id"), {"id": event.id})
        assert where == f"events_p{THIS_MONTH:%Y%m}"
        lookup = "\n".join(session.scalars(text(f"EXPLAIN SELECT * FROM events WHERE id = '{event.id}'")))
        assert f"events_p{THIS_MONTH:%Y%m}" in lookup
        assert not any(f"events_p{month:%Y%m}" in lookup for month in months[1:]), lookup
        assert "events_default" not in lookup
        month_range = created_between(Event.id, months[1], months[2])
        plan = "\n".join(
            session.scalars(
                text(
                    "EXPLAIN "
                    + str(select(Event).where(month_range).compile(events, compile_kwargs={"literal_binds": True}))
                )
            )
        )
        assert f"events_p{months[1]:%Y%m}" in plan
        assert sum(name in plan for name in _partition_names(events)) == 1, plan


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_schema_docs_and_inspect_see_the_partitioned_table_and_not_its_partitions(events: Engine) -> None:
    with events.connect() as connection:
        assert database_document(connection) == models_document([PartitionBase.metadata])
        assert inspect_database(connection).findings() == {}
        assert application_tables(inspect(connection)) == ["events"]


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_rows_in_the_default_partition_move_into_a_new_range_and_nothing_is_lost(events: Engine) -> None:
    later = next_start(THIS_MONTH, "month", 6)
    old = datetime(2000, 1, 1, tzinfo=UTC)
    with events.begin() as connection:
        connection.execute(insert(Event), [{"id": _id_at(later + timedelta(days=1)), "kind": "future"}])
        connection.execute(insert(Event), [{"id": _id_at(old), "kind": "seed"}])
        assert connection.scalar(text("SELECT count(*) FROM events_default")) == 2
        made = ensure_partitions(connection, "events", interval="month", ahead=1, now=later)
    assert made == [f"events_p{next_start(THIS_MONTH, 'month', step):%Y%m}" for step in range(4, 8)]
    with events.connect() as connection:
        placed = dict(connection.execute(text("SELECT kind, tableoid::regclass::text FROM events")).all())
    assert placed == {"future": f"events_p{later:%Y%m}", "seed": "events_default"}
    with events.connect() as connection:
        assert connection.scalar(text("SELECT shout FROM events WHERE kind = 'future'")) == "FUTURE"


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_old_partitions_are_detached_or_dropped_and_maintenance_makes_the_next_ones(events: Engine) -> None:
    start = next_start(THIS_MONTH, "month", -4)
    with events.begin() as connection:
        ensure_partitions(connection, "events", interval="month", ahead=4, now=start)
        connection.execute(insert(Event), [{"id": _id_at(start + timedelta(hours=1)), "kind": "old"}])
    assert _partition_names(events)[0] == f"events_p{start:%Y%m}"
    with events.begin() as connection:
        detached = detach_partitions(connection, "events", interval="month", kept=2)
    assert detached == [f"events_p{next_start(start, 'month', step):%Y%m}" for step in range(3)]
    with events.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Event)) == 0
        assert connection.scalar(text(f"SELECT kind FROM events_p{start:%Y%m}")) == "old"  # kept as a table
    with events.begin() as connection:
        report = maintain_partitions(
            connection, PartitionBase.metadata, now=next_start(THIS_MONTH, "month", 1), drop=True
        )
    assert report.created == {"events": [f"events_p{next_start(THIS_MONTH, 'month', 4):%Y%m}"]}
    assert report.detached == {"events": [f"events_p{next_start(THIS_MONTH, 'month', -1):%Y%m}"]}
    assert f"events_p{next_start(THIS_MONTH, 'month', -1):%Y%m}" not in inspect(events).get_table_names()
    with events.begin() as connection, pytest.raises(SchemakitError, match="at least the current interval"):
        detach_partitions(connection, "events", kept=0)


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_two_maintenance_runs_at_once_take_turns(events: Engine) -> None:
    later = next_start(THIS_MONTH, "month", 2)
    with ThreadPoolExecutor(1) as pool:
        with events.begin() as first:
            made = maintain_partitions(first, PartitionBase.metadata, now=later).created["events"]
            second = pool.submit(_maintain_in_its_own_transaction, events, later)
            time.sleep(0.3)
            assert not second.done()  # waiting for the first run's transaction
        assert second.result(timeout=30) == []
    assert made == [f"events_p{next_start(THIS_MONTH, 'month', step):%Y%m}" for step in (4, 5)]


def _maintain_in_its_own_transaction(engine: Engine, now: datetime) -> list[str]:
    with engine.begin() as connection:
        return maintain_partitions(connection, PartitionBase.metadata, now=now).created["events"]


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
def test_sqlite_keeps_a_plain_table_and_maintenance_does_nothing(events: Engine) -> None:
    assert inspect(events).get_table_names() == ["events"]
    with events.begin() as connection:
        assert maintain_partitions(connection, PartitionBase.metadata).text() == "No time-partitioned tables."


def test_a_model_that_cannot_be_partitioned_says_why() -> None:
    class Other(DeclarativeBase):
        metadata = make_metadata()

    with pytest.raises(SchemakitError, match="UUIDv7 'id' as its whole primary key"):

        class ByNumber(TimePartitionedMixin, Other):
            __tablename__ = "by_number"
            number: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(SchemakitError, match="the unique constraint on code leaves out 'id'"):

        class Coded(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Other):
            __tablename__ = "coded"
            __table_args__ = (UniqueConstraint("code"),)
            code: Mapped[str] = mapped_column(String(10))

    with pytest.raises(SchemakitError, match="keep at least the current interval"):

        class KeepsNothing(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Other):
            __tablename__ = "keeps_nothing"
            __partitions_kept__ = 0

    with pytest.raises(SchemakitError, match="__partitions_ahead__ is -1"):

        class Backwards(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Other):
            __tablename__ = "backwards"
            __partitions_ahead__ = -1

    with pytest.raises(ValueError, match="'fortnight' is not a valid Interval"):

        class Fortnightly(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Other):
            __tablename__ = "fortnightly"
            __partition_interval__ = "fortnight"


PARTITION_ENV = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from schemakit import TYPE_ANNOTATION_MAP, TimePartitionedMixin, TimestampMixin, UUIDv7PrimaryKeyMixin, make_metadata
from schemakit.migrations import run_migrations


class AppBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Event(UUIDv7PrimaryKeyMixin, TimestampMixin, TimePartitionedMixin, AppBase):
    __tablename__ = "events"
    __partitions_kept__ = 2
    kind: Mapped[str] = mapped_column(String(20), index={indexed})


run_migrations(AppBase.metadata)
"""


def _drift(config: Config) -> list[str]:
    captured: list[str] = []
    command.revision(with_options(config, capture_revision=captured), autogenerate=True)
    return captured


@pytest.fixture
def migrated(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[Path, Config, Engine]]:
    """A project whose first revision, written by autogenerate, makes the partitioned table; applied."""
    project = copy_project(tmp_path / "project")
    for revision in (project / "alembic" / "versions").glob("*.py"):
        revision.unlink()
    (project / "alembic" / "env.py").write_text(PARTITION_ENV.format(indexed=False))
    config = configure(project, empty_database_url)
    command.revision(config, message="events", autogenerate=True)
    upgrade(config)
    engine = make_engine(DatabaseSettings.for_url(empty_database_url))
    yield project, config, engine
    engine.dispose()


def test_autogenerate_writes_the_partitioned_table_and_its_partitions_and_the_round_trip_is_clean(
    migrated: tuple[Path, Config, Engine],
) -> None:
    project, config, engine = migrated
    (written,) = (project / "alembic" / "versions").glob("*events.py")
    code = written.read_text()
    assert 'postgresql_partition_by="RANGE (id)"' in code, code
    assert 'op.create_partitions("events", interval="month", ahead=3)' in code, code
    assert 'op.drop_partitions("events", interval="month", ahead=3)' in code, code
    assert _drift(config) == []
    downgrade(config, "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(config)
    assert _drift(config) == []
    if engine.dialect.name == "postgresql":
        assert len(_partition_names(engine)) == 5


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
def test_every_quality_gate_passes_on_a_partitioned_table(migrated: tuple[Path, Config, Engine]) -> None:
    # The lock-safety gate lints the history's SQL script, where op.create_partitions cannot read the catalog.
    project, _, _ = migrated
    report = run_check(project / "alembic.ini")
    assert report.passed, report.text()
    assert {result.gate for result in report.results if not result.skipped} >= {"round-trip", "drift", "lock-safety"}


def test_the_partitions_command_detaches_old_partitions_and_says_when_it_cannot_run(
    migrated: tuple[Path, Config, Engine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project, _, engine = migrated
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        with engine.begin() as connection:
            ensure_partitions(connection, "events", ahead=3, now=next_start(THIS_MONTH, "month", -3))
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    capsys.readouterr()
    assert main(["partitions", "--config", str(project / "alembic.ini"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    if postgresql:
        old = [f"events_p{next_start(THIS_MONTH, 'month', step):%Y%m}" for step in (-3, -2)]
        assert report == {"created": {"events": []}, "detached": {"events": old}}
    else:
        assert report == {"created": {}, "detached": {}}
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["partitions", "--config", str(project / "alembic.ini")]) == 2
    assert "schemakit partitions:" in capsys.readouterr().err


def test_an_index_on_an_existing_partitioned_table_is_built_online_on_each_partition(
    migrated: tuple[Path, Config, Engine],
) -> None:
    project, config, engine = migrated
    (project / "alembic" / "env.py").write_text(PARTITION_ENV.format(indexed=True))
    command.revision(config, message="index kind", autogenerate=True)
    (indexing,) = (project / "alembic" / "versions").glob("*index_kind.py")
    online = engine.dialect.name == "postgresql"
    assert ("op.create_index_online(" in indexing.read_text()) is online
    upgrade(config)
    assert _drift(config) == []
    if online:
        with engine.connect() as connection:
            index = "'idx_events_kind'::regclass"
            assert connection.scalar(text(f"SELECT indisvalid FROM pg_index WHERE indexrelid = {index}")) is True
            attached = connection.scalar(text(f"SELECT count(*) FROM pg_inherits WHERE inhparent = {index}"))
        assert attached == len(_partition_names(engine))
    downgrade(config, "-1")
    assert "idx_events_kind" not in {index["name"] for index in inspect(engine).get_indexes("events")}
    upgrade(config)
    assert _drift(config) == []
