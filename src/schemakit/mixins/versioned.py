"""Optimistic locking with a version counter."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from schemakit.errors import VersionMismatchError

__all__ = ["VersionedMixin"]


class VersionedMixin:
    """Adds ``version``, a counter that makes concurrent writes to one row fail instead of overwriting.

    The row starts at version 1. Each ORM update or delete checks ``WHERE version = <the version loaded>`` and
    bumps it by one; if another transaction got there first, nothing matches and the flush raises
    :class:`~schemakit.errors.ConcurrentUpdateError` (when the session comes from :mod:`schemakit.engine`, or
    is a :class:`schemakit.session.Session`; otherwise SQLAlchemy's ``StaleDataError``, its base class).

    Bulk ``update()`` statements bypass the counter, as they bypass the ORM.

    The mixin supplies ``__mapper_args__``; a model that needs more mapper arguments merges them::

        @declared_attr.directive
        def __mapper_args__(cls):
            return {**VersionedMixin.__mapper_args__.fget(cls), "eager_defaults": True}
    """

    version: Mapped[int] = mapped_column(nullable=False, sort_order=90)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr receives the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]

    def expect_version(self, expected: int) -> None:
        """Check a client-supplied version (an ``If-Match`` header, a hidden form field) before writing.

        Call it on the freshly loaded row before changing it. If it passes, the flush still checks the version
        in its ``UPDATE``, so a writer that slips in between is caught too.

        Args:
            expected: The version the client last saw.

        Raises:
            VersionMismatchError: If the row is at another version; nothing has been written.
        """
        if self.version != expected:
            raise VersionMismatchError(type(self).__name__, expected=expected, actual=self.version)
