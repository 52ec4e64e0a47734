"""Creation and last-update timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from schemakit.sql import UPDATED_AT_TRIGGER, attach_to_mapped_subclasses
from schemakit.types import UTCDateTime, utc_now

__all__ = ["TimestampMixin"]

# CURRENT_TIMESTAMP is UTC on SQLite and the transaction's start time on PostgreSQL: the same default text
# on both dialects, for rows written by raw SQL. ORM writes carry the Python clock's microseconds instead.
_SERVER_NOW = text("CURRENT_TIMESTAMP")


def _same_as_created_at(context: DefaultExecutionContext) -> datetime:
    try:
        created_at = context.get_current_parameters().get("created_at")  # type: ignore[no-untyped-call]
    except KeyError:
        # A Core multi-VALUES insert (insert(Model).values([...])): SQLAlchemy cannot isolate the row's
        # parameters here, so the row gets the clock now, a microsecond or so after its created_at.
        created_at = None
    return created_at if isinstance(created_at, datetime) else utc_now()


class TimestampMixin:
    """Adds ``created_at`` and ``updated_at``, aware UTC timestamps, as the last columns.

    Both are NOT NULL with a ``CURRENT_TIMESTAMP`` server default, so rows inserted by raw SQL get them too.
    An ORM insert sets both to the same instant; every ORM update (and Core ``update()`` of the table) moves
    ``updated_at`` to the current time. For raw SQL ``UPDATE`` statements, migrations install a trigger on
    the table (autogenerate emits ``op.create_updated_at_trigger(...)`` for every table with this mixin).
    """

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, server_default=_SERVER_NOW, sort_order=100
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=_same_as_created_at,
        onupdate=utc_now,
        server_default=_SERVER_NOW,
        sort_order=101,
        info={UPDATED_AT_TRIGGER: True},
    )


attach_to_mapped_subclasses(TimestampMixin)


@event.listens_for(TimestampMixin, "before_insert", propagate=True)
def _stamp_insert(_mapper: Mapper[Any], _connection: Connection, target: TimestampMixin) -> None:
    # Set in the ORM rather than by the column defaults (which serve Core inserts), so the ORM holds every
    # server-defaulted value and need not fetch them back with INSERT ... RETURNING.
    if target.created_at is None:
        target.created_at = utc_now()
    if target.updated_at is None:
        target.updated_at = target.created_at
