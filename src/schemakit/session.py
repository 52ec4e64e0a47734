"""Session classes that report optimistic-locking conflicts as ``ConcurrentUpdateError``, schemakit's errors as such.

The factories in :mod:`schemakit.engine` use these classes. An application building its own
``sessionmaker`` passes ``class_=schemakit.Session`` (or ``AsyncSession`` to ``async_sessionmaker``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession as _AsyncSession
from sqlalchemy.orm import Session as _Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import ORMOption

from schemakit.errors import ConcurrentUpdateError, SchemakitError
from schemakit.mixins.soft_delete import SEES_DELETED

__all__ = ["AsyncSession", "Session"]

_T = TypeVar("_T")

_CONFLICT_HINT = (
    "another transaction changed or deleted the row since this session loaded it; reload it and apply the change again"
)


class Session(_Session):
    """A SQLAlchemy ``Session`` whose flush raises ``ConcurrentUpdateError`` on a version conflict.

    A schemakit error raised while the flush prepares a statement (a naive datetime for a ``UTCDateTime``
    column, say) reaches the caller as itself, where SQLAlchemy would wrap it in a ``StatementError``; the
    wrapper stays attached as its ``__cause__``.
    """

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        """Flush pending changes; see :meth:`sqlalchemy.orm.Session.flush`.

        Raises:
            ConcurrentUpdateError: If a versioned row was changed by another transaction.
            SchemakitError: A schemakit error raised while preparing a statement (``NaiveDatetimeError``, ...).
        """
        try:
            super().flush(objects)
        except ConcurrentUpdateError:
            raise
        except StaleDataError as exc:
            raise ConcurrentUpdateError(f"{exc} ({_CONFLICT_HINT})") from exc
        except StatementError as exc:
            if isinstance(exc.orig, SchemakitError):
                raise exc.orig from exc
            raise

    def merge(self, instance: _T, *, load: bool = True, options: Sequence[ORMOption] | None = None) -> _T:
        """Merge ``instance`` into the session; see :meth:`sqlalchemy.orm.Session.merge`.

        The row is looked up with the soft-delete filter off: merging a detached, soft-deleted object finds its
        row, where the filtered lookup would find none and try to insert it again.
        """
        previous = self.info.get(SEES_DELETED, False)
        self.info[SEES_DELETED] = True
        try:
            return super().merge(instance, load=load, options=options)
        finally:
            self.info[SEES_DELETED] = previous


class AsyncSession(_AsyncSession):
    """A SQLAlchemy :class:`~sqlalchemy.ext.asyncio.AsyncSession` running on :class:`Session`."""

    sync_session_class = Session
