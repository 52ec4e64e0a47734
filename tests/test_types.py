import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, inspect, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import mapped_column

from schemakit import JSONDocument, NaiveDatetimeError, UTCDateTime, make_metadata, string_enum


class Colour(enum.StrEnum):
    RED = "red"
    DEEP_BLUE = "deep-blue"


def make_table(engine: Engine) -> Table:
    metadata: MetaData = make_metadata()
    table = Table(
        "samples",
        metadata,
        Column("name", String(20), primary_key=True),
        Column("at", UTCDateTime()),
        Column("doc", JSONDocument),
        Column("colour", string_enum(Colour)),
    )
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return table


@pytest.fixture
def samples(engine: Engine) -> Any:
    table = make_table(engine)
    yield table
    table.metadata.drop_all(engine)


def test_datetimes_come_back_aware_in_utc(engine: Engine, samples: Table) -> None:
    paris_summer = timezone(timedelta(hours=2))
    written = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=paris_summer)
    with engine.begin() as connection:
        connection.execute(insert(samples).values(name="a", at=written))
        read = connection.scalar(select(samples.c.at))
    assert read == written
    assert read.tzinfo == UTC
    assert read.hour == 12
    assert read.microsecond == 123456


def test_naive_datetimes_are_refused_with_a_clear_message(engine: Engine, samples: Table) -> None:
    with engine.begin() as connection, pytest.raises(StatementError) as caught:
        connection.execute(insert(samples).values(name="a", at=datetime(2026, 1, 1)))
    assert isinstance(caught.value.orig, NaiveDatetimeError)
    assert "naive datetime 2026-01-01T00:00:00 has no timezone" in str(caught.value)
    with engine.connect() as connection:
        assert connection.scalar(select(samples.c.name)) is None


def test_json_documents_round_trip(engine: Engine, samples: Table) -> None:
    document = {"tags": ["a", "b"], "nested": {"n": 1, "ok": True, "none": None}, "text": "ünïcode"}
    with engine.begin() as connection:
        connection.execute(insert(samples).values(name="a", doc=document))
        assert connection.scalar(select(samples.c.doc)) == document


def test_json_documents_are_jsonb_on_postgres(engine: Engine, samples: Table) -> None:
    (column,) = [c for c in inspect(engine).get_columns("samples") if c["name"] == "doc"]
    expected = JSONB if engine.dialect.name == "postgresql" else type(JSONDocument)
    assert isinstance(column["type"], expected)


def test_string_enums_store_values_and_check_them(engine: Engine, samples: Table) -> None:
    with engine.begin() as connection:
        connection.execute(insert(samples).values(name="a", colour=Colour.DEEP_BLUE))
        assert connection.scalar(text("SELECT colour FROM samples")) == "deep-blue"
        assert connection.scalar(select(samples.c.colour)) is Colour.DEEP_BLUE
    with pytest.raises(IntegrityError, match="chk_samples_colour"), engine.begin() as connection:
        connection.execute(text("INSERT INTO samples (name, colour) VALUES ('b', 'green')"))


def test_string_enum_defaults() -> None:
    kind = string_enum(Colour)
    assert kind.name == "colour"
    assert kind.length == 32
    assert kind.native_enum is False
    assert string_enum(Colour, name="shade", length=9).length == 9


def test_string_enum_refuses_a_length_too_short() -> None:
    with pytest.raises(ValueError, match="shorter than the longest value of Colour"):
        string_enum(Colour, length=3)


def test_values_that_are_not_members_are_refused(engine: Engine, samples: Table) -> None:
    with (
        pytest.raises(StatementError, match="'green' is not among the defined enum values"),
        engine.begin() as connection,
    ):
        connection.execute(insert(samples).values(name="a", colour="green"))


def test_annotations_map_to_the_portable_types() -> None:
    from datetime import datetime as dt

    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.orm import DeclarativeBase, Mapped

    from schemakit import TYPE_ANNOTATION_MAP
    from schemakit import make_metadata as new_metadata

    class Local(DeclarativeBase):
        metadata = new_metadata()
        type_annotation_map = TYPE_ANNOTATION_MAP

    class Thing(Local):
        __tablename__ = "things"
        id: Mapped[int] = mapped_column(primary_key=True)
        seen_at: Mapped[dt]
        doc: Mapped[dict[str, Any]]
        colour: Mapped[Colour]

    columns = Thing.__table__.c
    assert isinstance(columns.seen_at.type, UTCDateTime)
    assert columns.doc.type.compile(dialect=postgresql.dialect()) == "JSONB"
    assert columns.doc.type.compile(dialect=sqlite.dialect()) == "JSON"
    assert columns.colour.type.compile(dialect=postgresql.dialect()) == "VARCHAR(32)"
    assert {c.name for c in Thing.__table__.constraints} == {"pk_things", "chk_things_colour"}
