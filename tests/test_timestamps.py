import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, text

from schemakit import NaiveDatetimeError, make_session_factory, session_scope
from tests.library.models import Everything


def test_columns_are_ordered_id_first_and_timestamps_last() -> None:
    assert [column.name for column in Everything.__table__.columns] == [
        "id",
        "label",
        "version",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "deleted_at",
    ]


def test_insert_sets_both_timestamps_to_the_same_aware_instant(engine: Engine) -> None:
    before = datetime.now(UTC)
    with session_scope(make_session_factory(engine)) as session:
        row = Everything(label="a")
        session.add(row)
    with make_session_factory(engine)() as session:
        loaded = session.get_one(Everything, row.id)
        assert loaded.created_at.tzinfo == UTC
        assert loaded.created_at == loaded.updated_at
        assert before <= loaded.created_at <= datetime.now(UTC)


def test_orm_update_refreshes_updated_at_only(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        row = Everything(label="a")
        session.add(row)
    created = row.created_at
    time.sleep(0.01)
    with session_scope(factory) as session:
        loaded = session.get_one(Everything, row.id)
        loaded.label = "b"
    with factory() as session:
        loaded = session.get_one(Everything, row.id)
        assert loaded.created_at == created
        assert loaded.updated_at > created + timedelta(milliseconds=5)


def test_raw_sql_inserts_get_server_side_timestamps(engine: Engine) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO everything (id, label, version) VALUES (:id, 'raw', 1)"),
            {"id": "0190a0a0-0000-7000-8000-000000000001"},
        )
    with make_session_factory(engine)() as session:
        row = session.scalars(select(Everything)).one()
        assert row.created_at.tzinfo == UTC
        assert before <= row.created_at <= datetime.now(UTC)
        assert row.updated_at == row.created_at


def test_ids_sort_by_creation_in_the_database(engine: Engine) -> None:
    factory = make_session_factory(engine)
    labels = [f"row-{n:03}" for n in range(200)]
    with session_scope(factory) as session:
        for label in labels:
            session.add(Everything(label=label))
            session.flush()  # one insert at a time, in order
    with factory() as session:
        assert session.scalars(select(Everything.label).order_by(Everything.id)).all() == labels
        ids = session.scalars(select(Everything.id).order_by(Everything.id)).all()
        assert {value.version for value in ids} == {7}


def test_explicit_ids_and_timestamps_are_kept(engine: Engine) -> None:
    chosen_id = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    chosen_time = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
    with session_scope(make_session_factory(engine)) as session:
        session.add(Everything(id=chosen_id, label="explicit", created_at=chosen_time))
    with make_session_factory(engine)() as session:
        row = session.get_one(Everything, chosen_id)
        assert (row.created_at, row.updated_at) == (chosen_time, chosen_time)


def test_a_naive_datetime_in_a_flush_is_caught_as_itself(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(NaiveDatetimeError, match="has no timezone"), session_scope(factory) as session:
        session.add(Everything(label="naive", deleted_at=datetime(2026, 1, 1)))
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Everything)) == 0


def test_a_raw_update_never_moves_updated_at_backwards_or_before_itself(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        row = Everything(label="probe")
        session.add(row)
    late = []
    for attempt in range(100):
        with session_scope(factory) as session:
            session.get_one(Everything, row.id).label = f"orm {attempt}"
        with factory() as session:
            written_by_the_orm = session.get_one(Everything, row.id).updated_at
        before = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(text("UPDATE everything SET label = 'raw'"))
        with factory() as session:
            after_raw = session.scalar(select(Everything.updated_at))
        if after_raw < written_by_the_orm or after_raw < before:
            late.append((written_by_the_orm, before, after_raw))
    assert late == []


def test_a_multi_values_core_insert_gets_both_timestamps(engine: Engine) -> None:
    before = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(Everything).values([{"label": "one"}, {"label": "two"}]))
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(Everything).order_by(Everything.label)).all()
    assert [row.label for row in rows] == ["one", "two"]
    for row in rows:
        assert before <= row.created_at <= row.updated_at <= datetime.now(UTC)
        assert row.updated_at - row.created_at < timedelta(seconds=1)
