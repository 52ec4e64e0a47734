"""Sessions that report optimistic-locking conflicts as ``ConcurrentUpdateError``, schemakit's errors as such.

* :class:`Session` / :class:`AsyncSession`; an application building its own ``sessionmaker`` passes
  ``class_=schemakit.Session`` (or ``AsyncSession`` to ``async_sessionmaker``).
* :func:`make_session_factory` / :func:`make_async_session_factory`: factories of those classes.
* :func:`session_scope` / :func:`async_session_scope`: one transaction, committed on success and rolled back
  on error.

Sessions from these factories keep attribute values after commit (``expire_on_commit=False``), so objects
can be returned from a scope and read without another query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.ext.asyncio import AsyncSession as _AsyncSession
from sqlalchemy.orm import Session as _Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import ORMOption

from schemakit.conflicts import ConcurrentUpdateError
from schemakit.errors import SchemakitError
from schemakit.mixins.soft_delete import SEES_DELETED

__all__ = [
    "AsyncSession",
    "Session",
    "async_session_scope",
    "make_async_session_factory",
    "make_session_factory",
    "session_scope",
]

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

    sync_session_class: type[_Session] = Session


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a factory of :class:`schemakit.Session` bound to ``engine``."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


def make_async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a factory of :class:`schemakit.AsyncSession` bound to ``engine``."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Run a block in one transaction: commit if it succeeds, roll back if it raises.

    Args:
        factory: A session factory, such as :func:`make_session_factory` returns.

    Yields:
        The session; it is closed when the block exits.
    """
    with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def async_session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The async form of :func:`session_scope`.

    Args:
        factory: An async session factory, such as :func:`make_async_session_factory` returns.

    Yields:
        The session; it is closed when the block exits.
    """
    async with factory() as session, session.begin():
        yield session
