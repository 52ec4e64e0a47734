"""Time-ordered UUIDs (version 7, RFC 9562) for primary keys.

:func:`uuid7` returns a plain :class:`uuid.UUID` whose first 48 bits are the Unix time in milliseconds, so
ids sort by creation and new rows land at the right-hand edge of a B-tree index instead of at random pages.

Within one millisecond the ids are ordered by a 42-bit counter (RFC 9562, section 6.2, method 1, as Python
3.14's ``uuid.uuid7`` does), seeded randomly at each new millisecond with its top bit clear. So the ids are
strictly increasing within a process, even across threads, and the embedded time never runs ahead of the
clock: a counter step costs nothing of the timestamp, unlike generators that add a millisecond per id. The
remaining 32 bits are random.

When the optional ``uuid_utils`` package is installed (``pip install schemakit[fast]``), its Rust generator,
which uses the same counter method, does the work; the result is still a plain :class:`uuid.UUID` of
version 7. There is no fallback to another version.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["SEED_EPOCH", "UUID7_GENERATOR", "deterministic_uuid7", "uuid7", "uuid7_time"]

_COUNTER_BITS = 42
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RANDOM_BUFFER_BYTES = 4096

_new_object = object.__new__
_set_attribute = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def _plain_uuid(value: int) -> uuid.UUID:
    # Skips uuid.UUID.__init__'s argument parsing, like CPython 3.14's UUID._from_int: the value is known
    # to be a well-formed 128-bit integer. It writes UUID's two slots directly, so tests/test_dependency_contracts.py
    # checks that the slots are still those two and that the result equals uuid.UUID(int=value) in every way.
    result = _new_object(uuid.UUID)
    _set_attribute(result, "int", value)
    _set_attribute(result, "is_safe", _UNKNOWN_SAFETY)
    return result


class _CounterGenerator:
    """The pure-Python generator: one per process, guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0
        self._random = b""
        self._offset = 0

    def _random_bits(self, nbytes: int) -> int:
        # One urandom call per 4 KiB of randomness: a system call per id would cost more than the rest.
        if self._offset + nbytes > len(self._random):
            self._random = os.urandom(_RANDOM_BUFFER_BYTES)
            self._offset = 0
        start = self._offset
        self._offset = start + nbytes
        return int.from_bytes(self._random[start : start + nbytes])

    def __call__(self) -> uuid.UUID:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = self._random_bits(6) >> (48 - _COUNTER_BITS + 1)
            else:
                # Same millisecond, or the clock stepped back: keep the last time and count on.
                self._counter += 1
                if self._counter > _COUNTER_MAX:
                    self._last_ms += 1
                    self._counter = self._random_bits(6) >> (48 - _COUNTER_BITS + 1)
            ms, counter = self._last_ms, self._counter
            tail = self._random_bits(4)
        value = (ms << 80) | ((counter >> 30) << 64) | ((counter & 0x3FFF_FFFF) << 32) | tail | _VERSION_AND_VARIANT
        return _plain_uuid(value)


def _select_generator() -> tuple[str, Callable[[], uuid.UUID]]:
    try:
        import uuid_utils  # noqa: PLC0415 - optional dependency
    except ImportError:
        return "schemakit", _CounterGenerator()
    fast = uuid_utils.uuid7

    def generate() -> uuid.UUID:
        return _plain_uuid(fast().int)

    return "uuid_utils", generate


#: Which generator :func:`uuid7` uses: ``"uuid_utils"`` when that package is installed, else ``"schemakit"``.
UUID7_GENERATOR, _generate = _select_generator()


def uuid7() -> uuid.UUID:
    """Return a new UUID version 7, greater than every one this process made before.

    Returns:
        A plain :class:`uuid.UUID` with ``version == 7``.
    """
    return _generate()


def uuid7_time(value: uuid.UUID) -> datetime:
    """Return the creation time embedded in a UUID version 7, in UTC, to the millisecond.

    Args:
        value: A UUID made by :func:`uuid7` or any other RFC 9562 version 7 generator.

    Returns:
        A timezone-aware datetime in UTC.

    Raises:
        ValueError: If ``value`` is not a version 7 UUID.
    """
    if value.version != 7:
        raise ValueError(f"{value} is a version {value.version} UUID; only version 7 carries a timestamp")
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


#: The time embedded in every :func:`deterministic_uuid7`: 2000-01-01T00:00:00Z, so such ids sort before
#: every id made by :func:`uuid7` and are easy to tell apart.
SEED_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SEED_EPOCH_MS = int(SEED_EPOCH.timestamp() * 1000)
_SEVENTY_FOUR_BITS = (1 << 74) - 1


def deterministic_uuid7(*parts: str) -> uuid.UUID:
    """Return a version 7 UUID that depends only on ``parts``: the same on every machine and every run.

    The time field is :data:`SEED_EPOCH` and the 74 "random" bits are a SHA-256 of the parts, so fixture rows
    keep a stable id (seed data can refer to it) while every id in the table stays a valid version 7.

    Args:
        *parts: Strings naming the row, such as a table name and its natural key.

    Returns:
        A plain :class:`uuid.UUID` with ``version == 7``.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    bits = int.from_bytes(digest[:10]) & _SEVENTY_FOUR_BITS
    value = (_SEED_EPOCH_MS << 80) | ((bits >> 62) << 64) | (bits & ((1 << 62) - 1)) | _VERSION_AND_VARIANT
    return _plain_uuid(value)
