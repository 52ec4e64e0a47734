"""Column types that behave the same on PostgreSQL and SQLite.

* :class:`UTCDateTime` stores timezone-aware datetimes as UTC and always returns them aware, in UTC.
* :data:`JSONDocument` is ``JSONB`` on PostgreSQL and ``JSON`` elsewhere.
* :func:`string_enum` stores a Python :class:`enum.Enum` as its values in a ``VARCHAR`` with a ``CHECK``
  constraint, named by the naming convention, instead of a native ``ENUM`` type that needs its own
  migrations to change.
* :data:`TYPE_ANNOTATION_MAP` maps ``Mapped[...]`` annotations onto these types for a declarative base.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Enum, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from schemakit.errors import NaiveDatetimeError

__all__ = ["TYPE_ANNOTATION_MAP", "JSONDocument", "UTCDateTime", "string_enum", "utc_now"]

_ENUM_MIN_LENGTH = 32


def utc_now() -> datetime:
    """Return the current time as a timezone-aware datetime in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC and returned in UTC on every dialect.

    PostgreSQL stores it as ``timestamp with time zone``. SQLite has no such type, so the value is stored as
    UTC text and the timezone is put back when it is read. Naive datetimes are refused rather than guessed at:
    they raise :class:`~schemakit.errors.NaiveDatetimeError` (wrapped by SQLAlchemy in a ``StatementError``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """The Python type of values of this column."""
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is not UTC:  # datetime.now(UTC), what schemakit itself writes, is in UTC already
            if value.tzinfo is None or value.utcoffset() is None:
                raise NaiveDatetimeError(
                    f"naive datetime {value.isoformat()} has no timezone; pass an aware datetime such as "
                    "datetime.now(UTC)"
                )
            value = value.astimezone(UTC)
        # SQLite's DATETIME storage keeps no offset, so it gets the UTC wall-clock time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored time as an aware datetime in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


#: A JSON document: ``JSONB`` on PostgreSQL (indexable, compared by value), ``JSON`` on other dialects.
#: In-place changes to a loaded dict are not tracked; assign a new dict to write a change.
JSONDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_class]


def string_enum(
    enum_class: type[enum.Enum],
    *,
    name: str | None = None,
    length: int | None = None,
) -> Enum:
    """Return a column type that stores members of ``enum_class`` by value, checked by a named constraint.

    The column is a ``VARCHAR`` with a ``CHECK (column IN (...))`` constraint. The naming convention names the
    constraint ``chk_<table>_<name>``. Adding a member later is a change to that constraint in a migration,
    never an ``ALTER TYPE``.

    Args:
        enum_class: The Python enum; its members' values are what the database stores.
        name: The constraint's name within its table; defaults to the enum class's name in lower case, as
            SQLAlchemy names enums it maps from annotations.
        length: The ``VARCHAR`` length; defaults to at least 32 so that adding a slightly longer member
            does not also change the column type.

    Returns:
        A SQLAlchemy :class:`~sqlalchemy.Enum` configured as a checked string.

    Raises:
        ValueError: If ``length`` is shorter than the longest value.
    """
    values = _enum_values(enum_class)
    longest = max((len(value) for value in values), default=0)
    if length is not None and length < longest:
        raise ValueError(f"length {length} is shorter than the longest value of {enum_class.__name__}")
    return _checked_string(enum_class, name or enum_class.__name__.lower(), length or max(_ENUM_MIN_LENGTH, longest))


def _checked_string(enum_class: type[enum.Enum], name: str | None, length: int) -> Enum:
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_enum_values,
        validate_strings=True,
    )


#: A ``type_annotation_map`` for declarative bases: aware UTC datetimes, JSONB documents, UUIDs and
#: checked string enums. :class:`schemakit.Base` uses it; pass it to your own base to get the same types.
TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: UTCDateTime(),
    dict[str, Any]: JSONDocument,
    uuid.UUID: Uuid(),
    # SQLAlchemy copies these settings to each enum class it maps, naming it after the class.
    enum.Enum: _checked_string(enum.Enum, None, _ENUM_MIN_LENGTH),
}
