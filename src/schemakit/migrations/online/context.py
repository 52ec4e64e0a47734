"""Where an online operation runs, and how it takes a strong lock without stopping a busy table.

On PostgreSQL an online operation leaves the migration's transaction (Alembic's ``autocommit_block()``: the
revision's earlier operations are committed first) and runs each of its statements as a transaction of its
own, on the migration's connection, so the migration lock stays held. Elsewhere (SQLite; a connection the
caller keeps inside a transaction of its own) it does the plain equivalent inside the migration's transaction.

A statement that needs a strong lock (``ALTER TABLE``, ``CREATE TRIGGER``) waits at most
``DB_ONLINE_LOCK_TIMEOUT_MS`` (100 ms) for it: while it waits, every query on the table queues behind it, so a
short wait keeps the table's clients moving. On timeout it is tried again after a random, growing pause
(exponential backoff with full jitter, from 0.1 s up to 2 s), logging each retry, until
``DB_ONLINE_LOCK_BUDGET_S`` (60 s) is spent; then :class:`LockBudgetExhaustedError` names the sessions holding
locks on the table. A statement that timed out changed nothing, and every online operation is safe to run
again, so the migration can simply be run again once the blocker is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from alembic.operations import BatchOperations, Operations
from sqlalchemy import Connection, Dialect, Executable, text
from sqlalchemy.exc import DBAPIError

from schemakit.engine import temporary_settings
from schemakit.errors import MigrationError
from schemakit.naming import qualified_name, quote_identifier
from schemakit.settings import DatabaseSettings

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = [
    "ONLINE_OPTION",
    "POLICY_OPTION",
    "LockBudgetExhaustedError",
    "LockRetryPolicy",
    "catalog_value",
    "constraint_name",
    "constraint_state",
    "is_online",
    "outside_transaction",
    "sqlite_triggers",
    "table_change",
    "with_lock_retry",
]

log = logging.getLogger("schemakit.migrations.online")

#: The migration context option that says whether online operations may leave the migration's transaction.
ONLINE_OPTION = "schemakit_online_steps"
#: The migration context option holding the :class:`LockRetryPolicy`.
POLICY_OPTION = "schemakit_lock_retry"

_LOCK_NOT_AVAILABLE = "55P03"
_WARNED = "schemakit_online_fallback_warned"


class LockBudgetExhaustedError(MigrationError):
    """A strong lock was not granted within the retry budget; the message names the sessions holding locks."""


@dataclass(frozen=True)
class LockRetryPolicy:
    """How long an online operation waits for a strong lock, and for how long it keeps trying.

    Attributes:
        lock_timeout_ms: PostgreSQL's ``lock_timeout`` for one attempt.
        budget_s: The time, from the first attempt, after which no further attempt starts.
        first_wait_s: The largest pause after the first timeout; it doubles after each one.
        max_wait_s: The largest pause between two attempts.
    """

    lock_timeout_ms: int = 100
    budget_s: float = 60.0
    first_wait_s: float = 0.1
    max_wait_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> LockRetryPolicy:
        """The policy ``DB_ONLINE_LOCK_TIMEOUT_MS`` and ``DB_ONLINE_LOCK_BUDGET_S`` describe."""
        return cls(lock_timeout_ms=settings.online_lock_timeout_ms, budget_s=settings.online_lock_budget_s)


def is_online(operations: Operations) -> bool:
    """Whether online operations take their online form here: PostgreSQL, free to leave the transaction."""
    context = operations.get_context()
    if context.dialect.name != "postgresql":
        return False
    if context.opts.get(ONLINE_OPTION, True):
        return True
    if not context.opts.get(_WARNED):
        context.opts[_WARNED] = True
        log.warning(
            "the connection was handed in inside a transaction of the caller's, which holds the whole run: the "
            "online operations run inside it, in their plain form, and lock their tables until it ends"
        )
    return False


def outside_transaction(operations: Operations) -> Any:
    """The block an online operation's statements run in: Alembic's autocommit block when online."""
    return operations.get_context().autocommit_block() if is_online(operations) else nullcontext()


def catalog_value(operations: Operations, query: str, parameters: Mapping[str, Any]) -> Any:
    """One value read from the catalog; ``None`` offline (``--sql``), where the script assumes a fresh database."""
    if operations.get_context().as_sql:
        return None
    return operations.get_bind().execute(text(query), dict(parameters)).scalar()


def constraint_state(operations: Operations, name: str, table: str, schema: str | None) -> tuple[bool, bool]:
    """Whether the constraint exists on the table, and whether it is validated (both false offline)."""
    validated = catalog_value(
        operations,
        "SELECT convalidated FROM pg_constraint WHERE conname = :name AND conrelid = to_regclass(:table)",
        {"name": name, "table": qualified_name(table, schema)},
    )
    return validated is not None, bool(validated)


def with_lock_retry(
    operations: Operations,
    statement: Executable | str | Callable[[], object],
    *,
    table: str,
    schema: str | None,
    describe: str | None = None,
) -> None:
    """Run a statement that needs a strong lock on ``table``, waiting briefly and retrying within the budget.

    ``statement`` may also be a callable that runs one statement through ``operations``; ``describe`` then says
    what it does, for the log and the error.

    Raises:
        LockBudgetExhaustedError: When the budget ran out; the statement changed nothing.
    """
    context = operations.get_context()

    def apply() -> None:
        if isinstance(statement, str | Executable):
            operations.execute(statement)
        else:
            statement()

    if context.as_sql or not is_online(operations):
        apply()
        return
    policy: LockRetryPolicy = context.opts.get(POLICY_OPTION) or LockRetryPolicy()
    connection = operations.get_bind()
    target = qualified_name(table, schema)
    shown = _shown(statement, context.dialect, describe)
    blockers: list[str] = []

    # Imported when a lock is retried, not when Alembic starts: every `alembic` command imports this module.
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential  # noqa: PLC0415

    def note_retry(state: RetryCallState) -> None:
        blockers[:] = _blockers(connection, target)
        pause = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "lock on %s not granted within %d ms (attempt %d), held by %s; trying again in %.2f s: %s",
            target,
            policy.lock_timeout_ms,
            state.attempt_number,
            "; ".join(blockers) or "a session that has since finished",
            pause,
            shown,
        )

    retrying = Retrying(
        stop=stop_after_delay(policy.budget_s),
        wait=wait_random_exponential(multiplier=policy.first_wait_s, max=policy.max_wait_s),
        retry=retry_if_exception(_is_lock_timeout),
        before_sleep=note_retry,
        reraise=True,
    )
    try:
        with temporary_settings(connection, {"lock_timeout": f"{policy.lock_timeout_ms}ms"}):
            for attempt in retrying:
                with attempt:
                    apply()
    except DBAPIError as exc:
        if not _is_lock_timeout(exc):
            raise
        held_by = "; ".join(_blockers(connection, target) or blockers) or "sessions that have since finished"
        attempts = retrying.statistics.get("attempt_number", 1)
        raise LockBudgetExhaustedError(
            f"gave up taking the lock on {target} after {attempts} attempts in {policy.budget_s:g} s "
            f"(DB_ONLINE_LOCK_BUDGET_S); held by {held_by}. Nothing of this step was applied: end or wait for "
            f"those sessions and run the migration again. The statement: {shown}"
        ) from None


def _shown(statement: Executable | str | Callable[[], object], dialect: Dialect, describe: str | None) -> str:
    if describe is not None or isinstance(statement, str):
        return describe or str(statement)
    compile_ = getattr(statement, "compile", None)
    return str(compile_(dialect=dialect)) if compile_ is not None else "a schema change"


def _is_lock_timeout(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE


def _blockers(connection: Connection, target: str) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT DISTINCT a.pid, a.state, a.application_name, left(a.query, 200) AS query, "
            "coalesce(extract(epoch FROM clock_timestamp() - a.xact_start)::int, 0) AS seconds "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = to_regclass(:target) AND l.granted AND a.pid <> pg_backend_pid() ORDER BY a.pid"
        ),
        {"target": target},
    )
    return [
        f"pid {row.pid} ({row.application_name or '?'}, {row.state}, transaction open {row.seconds} s): {row.query}"
        for row in rows
    ]


def constraint_name(operation: Any) -> str:
    """An Alembic operation's constraint name as given, for a batch operation: ``op.f()``'s mark kept."""
    return cast("str", operation.constraint_name)


def sqlite_triggers(operations: Operations, table: str, schema: str | None) -> dict[str, str]:
    """The ``CREATE TRIGGER`` statements of a SQLite table's triggers, by name (none offline, none elsewhere)."""
    context = operations.get_context()
    if context.dialect.name != "sqlite" or context.as_sql:
        return {}
    master = f"{quote_identifier(schema)}.sqlite_master" if schema else "sqlite_master"
    rows = operations.get_bind().execute(
        text(f"SELECT name, sql FROM {master} WHERE type = 'trigger' AND tbl_name = :table"), {"table": table}
    )
    return {str(name): str(sql) for name, sql in rows}


@contextmanager
def table_change(operations: Operations, table: str, schema: str | None) -> Iterator[BatchOperations]:
    """Alembic's batch mode, for a plain change of a table's constraints or columns.

    On PostgreSQL it writes the ``ALTER TABLE`` statements themselves. SQLite alters a constraint by copying the
    table, which loses the table's triggers (the ``updated_at`` trigger, say): they are created again on the copy.
    """
    triggers = sqlite_triggers(operations, table, schema)
    with operations.batch_alter_table(table, schema=schema) as batch:
        yield batch
    for trigger in triggers.values():
        operations.execute(trigger)
