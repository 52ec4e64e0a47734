"""Sessions that read from replicas and write to the primary.

Within one session transaction:

* flushes, ``INSERT`` / ``UPDATE`` / ``DELETE``, ``SELECT ... FOR UPDATE`` (or ``SHARE``), ``text()`` and
  anything else that is not a plain ``SELECT`` go to the primary, and so does every later statement of that
  transaction: a transaction reads its own writes;
* plain ``SELECT`` statements before that go to one replica, picked once for the transaction by the
  :class:`~schemakit.replicas.ReadRouter` (so they share one snapshot), or to the primary when no replica is
  current enough or a write was committed within ``read_your_writes_s``;
* :meth:`RoutingSession.use_primary` sends the rest of the transaction to the primary.

A routing session bound to a connection (``bind=connection``, as the test kit's ``bind_session_factory`` binds
an application's factories to a test's transaction) sends everything to that connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, SessionTransaction, sessionmaker
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.selectable import CompoundSelect, Select

from schemakit.replicas.router import ReadRouter
from schemakit.session import AsyncSession, Session

__all__ = [
    "AsyncRoutingSession",
    "RoutingSession",
    "make_async_routing_session_factory",
    "make_routing_session_factory",
]


def _is_plain_read(clause: ClauseElement | None) -> bool:
    if isinstance(clause, CompoundSelect):
        return all(_is_plain_read(select) for select in clause.selects)
    # A locking read must see and lock the primary's rows; SQLAlchemy keeps FOR UPDATE only in this attribute.
    return isinstance(clause, Select) and clause._for_update_arg is None


class RoutingSession(Session):
    """A :class:`schemakit.Session` that sends plain reads to replicas and everything else to the primary.

    Args:
        router: Where the reads go (shared by the sessions of a factory).
        **kwargs: :class:`sqlalchemy.orm.Session`'s own arguments; ``bind`` defaults to the primary.
    """

    def __init__(self, *, router: ReadRouter, **kwargs: Any) -> None:
        kwargs.setdefault("bind", router.primary)
        super().__init__(**kwargs)
        self.router = router
        self._schemakit_on_primary = False
        self._schemakit_wrote = False
        self._schemakit_reads: Engine | None = None

    def get_bind(self, mapper: Any = None, *, clause: ClauseElement | None = None, **kwargs: Any) -> Any:
        """The primary, or the transaction's read engine for a plain ``SELECT``; see the module's rules."""
        if kwargs.get("bind") is not None or isinstance(self.bind, Connection):
            return super().get_bind(mapper, clause=clause, **kwargs)
        if self._flushing or not _is_plain_read(clause):
            # A write, or what may be one (text(), a locking read): the rest of the transaction stays here.
            self._schemakit_on_primary = self._schemakit_wrote = True
            return self.router.primary
        if self._schemakit_on_primary:
            return self.router.primary
        if self._schemakit_reads is None:
            self._schemakit_reads = self.router.read_engine()
        return self._schemakit_reads

    def use_primary(self) -> None:
        """Send the rest of this transaction (or the next one, outside a transaction) to the primary.

        It starts no read-your-writes window of its own: only a transaction that writes does.
        """
        self._schemakit_on_primary = True


@event.listens_for(RoutingSession, "after_commit")
def _note_write(session: RoutingSession) -> None:
    if session._schemakit_wrote:
        session.router.record_write()


@event.listens_for(RoutingSession, "do_orm_execute")
def _name_compound_reads(state: ORMExecuteState) -> None:
    # SQLAlchemy hands get_bind() no clause for an ORM UNION; without it the read would go to the primary.
    if isinstance(state.statement, CompoundSelect):
        state.bind_arguments.setdefault("clause", state.statement)


@event.listens_for(RoutingSession, "after_transaction_end")
def _forget_route(session: RoutingSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session._schemakit_on_primary = session._schemakit_wrote = False
        session._schemakit_reads = None


class AsyncRoutingSession(AsyncSession):
    """The async form of :class:`RoutingSession` (asyncpg engines)."""

    sync_session_class = RoutingSession
    sync_session: RoutingSession

    def use_primary(self) -> None:
        """Send the rest of this transaction to the primary; see :meth:`RoutingSession.use_primary`."""
        self.sync_session.use_primary()


def make_routing_session_factory(
    primary: Engine, replicas: Sequence[Engine], *, max_lag_s: float = 2.0, read_your_writes_s: float = 3.0
) -> sessionmaker[RoutingSession]:
    """A factory of :class:`RoutingSession` over ``primary`` and ``replicas``, sharing one :class:`ReadRouter`.

    Sessions keep attribute values after commit, as :func:`schemakit.make_session_factory`'s do.

    Args:
        primary: The primary's engine.
        replicas: The replicas' engines (``make_engine(s) for s in settings.for_replicas()``); none routes
            every statement to the primary.
        max_lag_s: The most a replica may lag and still serve reads (``DB_REPLICA_MAX_LAG_S``).
        read_your_writes_s: How long after a committed write reads stay on the primary (``DB_READ_YOUR_WRITES_S``).
    """
    router = ReadRouter(primary, replicas, max_lag_s=max_lag_s, read_your_writes_s=read_your_writes_s)
    return sessionmaker(class_=RoutingSession, expire_on_commit=False, router=router)


def make_async_routing_session_factory(
    primary: AsyncEngine, replicas: Sequence[AsyncEngine], *, max_lag_s: float = 2.0, read_your_writes_s: float = 3.0
) -> async_sessionmaker[AsyncRoutingSession]:
    """The async form of :func:`make_routing_session_factory`, over async engines."""
    router = ReadRouter(primary, replicas, max_lag_s=max_lag_s, read_your_writes_s=read_your_writes_s)
    return async_sessionmaker(primary, class_=AsyncRoutingSession, expire_on_commit=False, router=router)
