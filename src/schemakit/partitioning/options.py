"""What a time-partitioned table declares, kept in its ``Table.info``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

__all__ = ["PARTITIONED", "partitioning_of"]

#: The ``Table.info`` key of a time-partitioned table's ``interval``, ``ahead`` and ``kept``.
PARTITIONED = "schemakit.partitioned"


def partitioning_of(table: Table) -> dict[str, Any] | None:
    """A time-partitioned table's ``interval``, ``ahead`` and ``kept``, or ``None`` for another table."""
    found = table.info.get(PARTITIONED)
    return dict(found) if found else None
