"""Exceptions raised by schemakit.

Every error schemakit raises on purpose derives from :class:`SchemakitError`, so applications can catch the
library's errors in one place; one raised inside a flush reaches the caller as itself, not wrapped in
SQLAlchemy's ``StatementError``. Errors that refine a SQLAlchemy error also derive from it, so existing
``except`` clauses keep working.
"""

from __future__ import annotations

from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError


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


class ConcurrentUpdateError(SchemakitError, StaleDataError):
    """Another transaction changed or deleted the row since this session loaded it.

    Raised at flush for models using :class:`~schemakit.mixins.VersionedMixin` when the row's ``version`` no
    longer matches the one the session holds. The write is not applied: reload the row and retry, or report a
    conflict to the client.
    """


class VersionMismatchError(ConcurrentUpdateError):
    """A client-supplied expected version does not match the row's current version.

    Raised by :meth:`~schemakit.mixins.VersionedMixin.expect_version` before anything is written; the HTTP
    equivalent is ``412 Precondition Failed`` for an ``If-Match`` header.

    Attributes:
        expected: The version the client said it had.
        actual: The version the row has.
    """

    def __init__(self, entity: str, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"{entity} is at version {actual}, but the client expected version {expected}")
