"""A UUID version 7 primary key."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Uuid, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from schemakit.ids import uuid7
from schemakit.sql import attach_to_mapped_subclasses, uuid7_server_default

__all__ = ["ServerUUIDv7PrimaryKeyMixin", "UUIDv7PrimaryKeyMixin"]


class UUIDv7PrimaryKeyMixin:
    """Adds ``id``, a UUID version 7 primary key made by :func:`schemakit.ids.uuid7`, as the first column.

    The id is assigned when the row is flushed, or earlier if you pass one. Time-ordered ids keep inserts at
    the right edge of the primary-key index and let you page by ``id``. The column also has a server-side
    v7 default (:class:`~schemakit.sql.uuid7_server_default`), so rows inserted by raw SQL get one too.
    """

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), primary_key=True, default=uuid7, server_default=uuid7_server_default(), sort_order=-100
    )


class ServerUUIDv7PrimaryKeyMixin:
    """Adds ``id``, a UUID version 7 primary key made by the database when the row is inserted.

    For tables that several processes bulk-insert into at once: ids made at insert time keep the primary-key
    index dense, where ids made ahead in each process interleave and split pages (docs/benchmarks.md measured
    90 % against 58 % leaf density with four writers). The ORM reads each new id back with ``RETURNING``, so
    ``obj.id`` is set after the flush, not before. Needs the server default that schemakit's migrations (or
    ``metadata.create_all()``) install: ``schemakit_uuid7()`` on PostgreSQL, an expression on SQLite.
    """

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), primary_key=True, server_default=uuid7_server_default(), sort_order=-100
    )


attach_to_mapped_subclasses(UUIDv7PrimaryKeyMixin)
attach_to_mapped_subclasses(ServerUUIDv7PrimaryKeyMixin)


@event.listens_for(UUIDv7PrimaryKeyMixin, "before_insert", propagate=True)
def _assign_id(_mapper: Mapper[Any], _connection: Connection, target: UUIDv7PrimaryKeyMixin) -> None:
    # Assigned here rather than left to the column default, so the ORM knows every primary key before the
    # INSERT and can send the rows as one executemany instead of a batched INSERT ... RETURNING.
    if target.id is None:
        target.id = uuid7()
