"""Soft delete: rows are marked deleted and hidden from ORM queries instead of being removed.

When the first model with this mixin is mapped, schemakit registers one ``do_orm_execute`` listener on
:class:`sqlalchemy.orm.Session` (so on every session class, sync and async); importing schemakit alone
registers nothing. The listener adds ``deleted_at IS NULL`` for every soft-deletable class in an ORM
``SELECT``: the statement's own entities, joins, and relationship loads of every strategy (lazy, ``selectin``,
``joined``, ``subquery``, many-to-many). Deleted rows stay visible to raw SQL and Core statements on tables.

To see deleted rows, set the execution option on the statement (or on the session's ``execute``)::

    session.scalars(select(Product).execution_options(include_deleted=True))

The option covers that statement and the eager loads it triggers; lazy loads made later go through the
filter again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    FromClause,
    Index,
    Select,
    event,
    inspect,
    literal_column,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql import visitors

from schemakit.audit import current_actor
from schemakit.types import UTCDateTime, utc_now

__all__ = ["INCLUDE_DELETED", "SoftDeleteMixin", "unique_among_live"]

#: The execution option that shows soft-deleted rows.
INCLUDE_DELETED = "include_deleted"
#: The ``Session.info`` key under which the filter is off: :meth:`schemakit.Session.merge` sets it, since a merge
#: must find the row of a detached object even when that row is soft-deleted.
SEES_DELETED = "schemakit.sees_deleted"


class SoftDeleteMixin:
    """Adds ``deleted_at``: NULL for live rows, the deletion time for soft-deleted ones.

    Soft-deleted rows are hidden from ORM selects by default (see the module documentation). When the model
    also uses :class:`~schemakit.mixins.AuditMixin`, :meth:`soft_delete` and :meth:`restore` record the
    current actor in ``updated_by``.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, sort_order=102)

    @hybrid_property
    def is_deleted(self) -> bool:
        """Whether the row is soft-deleted; usable in queries as ``Model.is_deleted``."""
        return self.deleted_at is not None

    @is_deleted.inplace.expression
    @classmethod
    def _is_deleted_expression(cls) -> ColumnElement[bool]:
        return cls.deleted_at.is_not(None)

    def soft_delete(self, at: datetime | None = None) -> None:
        """Mark the row deleted; the change is written at the next flush.

        Deleting an already deleted row keeps its original deletion time.

        Args:
            at: The deletion time; defaults to now. Must be timezone-aware.
        """
        if self.deleted_at is None:
            self.deleted_at = at or utc_now()
            self._record_actor()

    def restore(self) -> None:
        """Bring a soft-deleted row back; the change is written at the next flush."""
        if self.deleted_at is not None:
            self.deleted_at = None
            self._record_actor()

    def _record_actor(self) -> None:
        # Set explicitly rather than left to the column's onupdate, so that the actor is recorded even if a
        # later change in the same flush would otherwise overwrite it.
        if hasattr(type(self), "updated_by"):
            self.updated_by = current_actor()


def unique_among_live(*columns: str, name: str | None = None) -> Index:
    """Return a unique index over ``columns`` that only counts rows that are not soft-deleted.

    Put it in the model's ``__table_args__``. It is a partial index (``WHERE deleted_at IS NULL``) on both
    PostgreSQL and SQLite, so a value such as an email can be used again once its row is soft-deleted, while
    two live rows can never share it.

    Args:
        *columns: The names of the columns that must be unique together.
        name: The index name; by default the naming convention's ``idx_<table>_<columns>``.

    Returns:
        The index, to be attached to the table.

    Raises:
        ValueError: If no column is named.
    """
    if not columns:
        raise ValueError("unique_among_live() needs at least one column name")
    live = literal_column("deleted_at").is_(None)
    return Index(name, *columns, unique=True, postgresql_where=live, sqlite_where=live)


def _live_rows(cls: type[SoftDeleteMixin]) -> ColumnElement[bool]:
    return cls.deleted_at.is_(None)


# Built once: building the option is the costly part of applying it.
_LIVE_ROWS_ONLY = with_loader_criteria(SoftDeleteMixin, _live_rows, include_aliases=True)
# The tables of the soft-deletable models, and what is known of each statement shape (by SQLAlchemy's cache key,
# which it computes for the statement anyway): whether it reaches one of those tables.
_soft_tables: set[FromClause] = set()
_shapes: dict[Any, bool] = {}
_MAX_SHAPES = 2000


@event.listens_for(SoftDeleteMixin, "after_mapper_constructed", propagate=True)
def _filter_sessions(mapper: Mapper[Any], _class: type) -> None:
    # A safety property of the mapped models, so it covers every Session, including ones the application
    # builds itself; registered once, with the first soft-deletable model, never by the import alone.
    _soft_tables.update(mapper.tables)
    _shapes.clear()
    if not event.contains(Session, "do_orm_execute", _hide_soft_deleted):
        event.listen(Session, "do_orm_execute", _hide_soft_deleted)
        event.listen(Mapper, "after_configured", _shapes.clear)


def _hide_soft_deleted(execute_state: ORMExecuteState) -> None:
    options: Any = execute_state.execution_options
    if (
        not execute_state.is_select
        or execute_state.is_column_load
        or options.get(INCLUDE_DELETED, False)
        or execute_state.session.info.get(SEES_DELETED)
    ):
        return
    mapper = execute_state.bind_mapper
    if (mapper is not None and issubclass(mapper.class_, SoftDeleteMixin)) or _reaches_soft_deleted(
        execute_state.statement
    ):
        execute_state.statement = execute_state.statement.options(_LIVE_ROWS_ONLY)


def _reaches_soft_deleted(statement: Executable) -> bool:
    if not isinstance(statement, ClauseElement):
        return True
    # A statement on other models pays a dictionary lookup. SQLAlchemy memoizes the cache key on the statement
    # and uses it to find the compiled form; _generate_cache_key is its private name for it (there is no public
    # one), so tests/test_dependency_contracts.py fails if it goes.
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return True
    known = _shapes.get(cache_key.key)
    if known is None:
        if len(_shapes) >= _MAX_SHAPES:
            _shapes.clear()
        known = _shapes[cache_key.key] = _mentions_soft_deleted(statement)
    return known


def _mentions_soft_deleted(statement: ClauseElement) -> bool:
    """Whether a soft-deletable table appears in the statement, or is reachable by a relationship of its models."""
    # The final FROM list holds the ORM joins the statement's own elements do not.
    froms = statement.get_final_froms() if isinstance(statement, Select) else []
    if any(_names_soft_table(element) for element in (statement, *froms)):
        return True
    return any(_reachable_tables(mapper) & _soft_tables for mapper in _mappers(statement))


def _names_soft_table(element: ClauseElement) -> bool:
    return any(isinstance(found, FromClause) and found in _soft_tables for found in visitors.iterate(element))


def _mappers(statement: ClauseElement) -> list[Mapper[Any]]:
    """The models the statement's elements belong to, and those it selects."""
    mappers = [
        entity
        for element in visitors.iterate(statement)
        if (entity := getattr(element, "_annotations", {}).get("parentmapper")) is not None
    ]
    if isinstance(statement, Select):
        for description in statement.column_descriptions:
            entity = description.get("entity")  # absent for a column of no model (a function, a literal)
            if (found := inspect(entity, raiseerr=False)) is not None and hasattr(found, "mapper"):
                mappers.append(found.mapper)
    return mappers


def _reachable_tables(mapper: Mapper[Any]) -> set[FromClause]:
    """The tables of every model reachable from ``mapper`` through relationships (where eager loads can go)."""
    seen: set[Mapper[Any]] = set()
    pending = [mapper]
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(relationship.mapper for relationship in current.relationships)
    return {table for found in seen for table in found.tables}
