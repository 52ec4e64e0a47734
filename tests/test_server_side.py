"""Rows written by raw SQL get v7 ids and a fresh updated_at, as ORM writes do."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine, select, text

from schemakit import make_session_factory, session_scope, uuid7_time
from schemakit.sql import SET_UPDATED_AT_FUNCTION, updated_at_trigger_name
from tests.library.models import Everything


def insert_raw(engine: Engine, label: str) -> uuid.UUID:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO everything (label, version) VALUES (:label, 1)"), {"label": label})
    with make_session_factory(engine)() as session:
        return session.scalars(select(Everything.id).where(Everything.label == label)).one()


def test_a_raw_insert_gets_a_version_7_id(engine: Engine) -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=2)
    first = insert_raw(engine, "first")
    time.sleep(0.003)
    second = insert_raw(engine, "second")
    assert (first.version, second.version) == (7, 7)
    assert first.variant == uuid.RFC_4122
    assert before <= uuid7_time(first) <= uuid7_time(second) <= datetime.now(UTC)
    assert first < second


def test_a_raw_update_refreshes_updated_at(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        row = Everything(label="a")
        session.add(row)
    time.sleep(0.01)
    with engine.begin() as connection:
        connection.execute(text("UPDATE everything SET label = 'b'"))
    with make_session_factory(engine)() as session:
        stored = session.get_one(Everything, row.id)
        assert stored.label == "b"
        assert stored.updated_at > row.created_at + timedelta(milliseconds=5)
        assert stored.created_at == row.created_at


def test_an_update_that_sets_updated_at_keeps_it(engine: Engine) -> None:
    chosen = datetime(2030, 1, 1, tzinfo=UTC)
    with session_scope(make_session_factory(engine)) as session:
        row = Everything(label="a")
        session.add(row)
    with session_scope(make_session_factory(engine)) as session:
        loaded = session.get_one(Everything, row.id)
        loaded.label = "b"
        loaded.updated_at = chosen
    with make_session_factory(engine)() as session:
        assert session.get_one(Everything, row.id).updated_at == chosen


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_the_trigger_calls_its_function_only_for_updates_that_leave_updated_at_alone(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        session.add(Everything(label="a"))
    calls = text(f"SELECT coalesce(pg_stat_get_xact_function_calls('{SET_UPDATED_AT_FUNCTION}'::regproc), 0)")
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL track_functions = 'pl'"))
        connection.execute(text("UPDATE everything SET label = 'orm', updated_at = clock_timestamp()"))  # as the ORM
        assert connection.scalar(calls) == 0
        connection.execute(text("UPDATE everything SET label = 'raw'"))
        assert connection.scalar(calls) == 1


def test_create_all_installs_the_trigger_only_where_asked(engine: Engine) -> None:
    query = {
        "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    }[engine.dialect.name]
    with engine.connect() as connection:
        triggers = set(connection.scalars(text(query)))
    assert updated_at_trigger_name("everything") in triggers
    assert updated_at_trigger_name("users") in triggers
    assert updated_at_trigger_name("posts") not in triggers  # posts have no TimestampMixin


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_server_made_ids_follow_insertion_order_within_a_millisecond(engine: Engine) -> None:
    with engine.begin() as connection:
        rows = "SELECT lpad(n::text, 6, '0'), 1 FROM generate_series(1, 5000) n"
        connection.execute(text(f"INSERT INTO everything (label, version) {rows}"))
        labels = list(connection.scalars(text("SELECT label FROM everything ORDER BY id")))
    in_order = sum(a < b for a, b in pairwise(labels))
    assert in_order / (len(labels) - 1) >= 0.99  # microsecond steps; two calls in one microsecond may tie


def test_server_made_ids_through_the_orm(engine: Engine) -> None:
    from tests.library.models import Reading

    with session_scope(make_session_factory(engine)) as session:
        readings = [Reading(sensor=f"s{n}") for n in range(50)]
        session.add_all(readings)
        session.flush()
        ids = [reading.id for reading in readings]
    assert all(isinstance(value, uuid.UUID) and value.version == 7 for value in ids)
    assert len(set(ids)) == 50
    with make_session_factory(engine)() as session:
        stored = session.get_one(Reading, ids[0])
        assert stored.sensor == "s0"
        assert abs(uuid7_time(stored.id) - stored.created_at) < timedelta(seconds=5)
