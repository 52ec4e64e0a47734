"""Exceptions raised by schemakit.

Every error schemakit raises on purpose derives from :class:`SchemakitError`, so applications can catch the
library's errors in one place; one raised inside a flush reaches the caller as itself, not wrapped in
SQLAlchemy's ``StatementError``. Errors that refine a SQLAlchemy error also derive from it, so existing
``except`` clauses keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from schemakit.conflicts import ConcurrentUpdateError, VersionMismatchError

__all__ = [
    "ConcurrentUpdateError",
    "MigrationError",
    "NaiveDatetimeError",
    "SchemakitError",
    "VersionMismatchError",
    "database_error_reason",
]


class SchemakitError(Exception):
    """Base class of the errors schemakit raises."""


def database_error_reason(error: DBAPIError) -> str:
    """The driver's own first line for a failed connection or statement, for a one-line message.

    It names the server and the failure, never the password (the drivers do not print it).
    """
    text = str(error.orig).strip() if error.orig is not None else ""
    return text.splitlines()[0] if text else type(error).__name__


class MigrationError(SchemakitError, CommandError):
    """A migration was refused or could not start; the message says why and what to do.

    Also an Alembic ``CommandError``, so the ``alembic`` command prints the message alone (``FAILED: ...``) and
    exits 1, without a traceback.
    """


class NaiveDatetimeError(SchemakitError, ValueError):
    """A datetime without a timezone was given where an aware one is required.

    Storing a naive datetime would silently attach whatever timezone the database session happens to use, so
    schemakit refuses it instead.
    """


def __getattr__(name: str) -> Any:
    # The optimistic-locking errors refine SQLAlchemy's StaleDataError, whose module imports the whole ORM; they
    # live in schemakit.conflicts and load on first use, so a migration run, which has no ORM, does not pay.
    if name in {"ConcurrentUpdateError", "VersionMismatchError"}:
        from schemakit import conflicts  # noqa: PLC0415 - loaded on first use, see above

        return getattr(conflicts, name)
    raise AttributeError(f"module 'schemakit.errors' has no attribute {name!r}")
