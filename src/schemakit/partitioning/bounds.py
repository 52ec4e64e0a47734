"""Time ranges as ranges of UUID version 7 ids, and the partitions that cover them.

A UUIDv7 starts with its creation time in milliseconds (48 bits), and UUIDs compare byte by byte, so every id
made in ``[start, end)`` lies in ``[id_bound(start), id_bound(end))``, where ``id_bound(t)`` is the smallest
UUID of millisecond ``t``: the time followed by zeros. A table partitioned by range on ``id`` is therefore
partitioned by creation time, with no timestamp column, and a time filter written on ``id``
(:func:`created_between`) prunes its partitions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_

from schemakit.errors import NaiveDatetimeError

__all__ = ["Interval", "created_between", "id_bound", "interval_start", "next_start", "partition_suffix"]


class Interval(StrEnum):
    """How much time one partition holds. Weeks start on Monday; every interval starts at midnight UTC."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise NaiveDatetimeError(f"{moment!r} has no timezone; give an aware datetime, such as one in UTC")
    return moment.astimezone(UTC)


def interval_start(moment: datetime, interval: Interval | str) -> datetime:
    """The start (UTC) of the interval that holds ``moment``.

    Raises:
        NaiveDatetimeError: If ``moment`` has no timezone.
    """
    day = _utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    match Interval(interval):
        case Interval.DAY:
            return day
        case Interval.WEEK:
            return day - timedelta(days=day.weekday())
        case Interval.MONTH:
            return day.replace(day=1)


def next_start(start: datetime, interval: Interval | str, steps: int = 1) -> datetime:
    """The start of the interval ``steps`` after the one starting at ``start`` (before it, when negative)."""
    match Interval(interval):
        case Interval.DAY:
            return start + timedelta(days=steps)
        case Interval.WEEK:
            return start + timedelta(weeks=steps)
        case Interval.MONTH:
            months = start.year * 12 + start.month - 1 + steps
            return start.replace(year=months // 12, month=months % 12 + 1)


def id_bound(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of ``moment``'s millisecond: every id made at or after ``moment`` is at least this.

    Raises:
        NaiveDatetimeError: If ``moment`` has no timezone.
    """
    milliseconds = int(_utc(moment).timestamp() * 1000)
    return uuid.UUID(int=milliseconds << 80)


def created_between(id_column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    """A filter on a UUIDv7 ``id`` column for rows created in ``[start, end)``; it prunes time partitions.

    Args:
        id_column: The id column, or a model's ``id`` attribute (``Event.id``).
        start: The first moment included (timezone-aware).
        end: The first moment excluded (timezone-aware).
    """
    return and_(id_column >= id_bound(start), id_column < id_bound(end))


def partition_suffix(start: datetime, interval: Interval | str) -> str:
    """The suffix of the partition starting at ``start``: ``p202611`` for a month, ``p20261130`` for a day or week."""
    return f"p{start:%Y%m}" if Interval(interval) is Interval.MONTH else f"p{start:%Y%m%d}"
