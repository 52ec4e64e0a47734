"""The optimistic-locking errors: a row changed since it was loaded.

Both refine SQLAlchemy's ``StaleDataError``, so ``except StaleDataError`` clauses keep working. They are also
importable from :mod:`schemakit.errors` and :mod:`schemakit`.
"""

from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError

from schemakit.errors import SchemakitError

__all__ = ["ConcurrentUpdateError", "VersionMismatchError"]


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
