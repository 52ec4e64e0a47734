"""Plan checks in tests: ``EXPLAIN`` on the statements the code under test issues, with bounds a test states.

::

    def test_paid_orders_use_an_index(db_session, query_plans):
        with query_plans.capture(db_session, seq_scan_rows=1000, max_cost=500):
            list_paid_orders(db_session)

Every statement run through the target (a session, connection or engine, sync or async) while the block runs is
explained on the same connection, inside the same transaction, right after it runs; leaving the block fails
the test (:class:`PlanCheckError`, an ``AssertionError``) naming each statement whose plan scans a table of
more than ``seq_scan_rows`` rows sequentially or costs more than ``max_cost``. On PostgreSQL with the hypopg
extension available, a failing sequential scan comes with an index suggestion, proven by a hypothetical index
that lowers the statement's cost by at least 30 % (:data:`MIN_GAIN`). SQLite reports full table scans (``EXPLAIN
QUERY PLAN``); it has no costs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from schemakit.naming import quote_identifier, quote_literal

__all__ = ["MIN_GAIN", "Plan", "PlanCheckError", "QueryPlans", "SequentialScan", "query_plans"]

#: How much cheaper a hypothetical index must make a statement before it is suggested.
MIN_GAIN = 0.3

_EXPLAINED = re.compile(r"\s*(\(\s*)*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_GUARD = "schemakit.explaining"


class PlanCheckError(AssertionError):
    """A captured statement's plan broke a bound the test stated."""


@dataclass(frozen=True)
class SequentialScan:
    """A table a plan reads whole: its name, its rows, and an index that would help (PostgreSQL with hypopg)."""

    table: str
    rows: int
    suggestion: str | None = None


@dataclass(frozen=True)
class Plan:
    """One captured statement and its plan.

    Attributes:
        statement: The SQL as sent to the driver.
        cost: The plan's total cost (PostgreSQL; ``None`` on SQLite).
        scans: The tables it reads whole.
        plan: The plan itself: PostgreSQL's ``EXPLAIN (FORMAT JSON)`` tree, or SQLite's plan lines.
    """

    statement: str
    cost: float | None
    scans: list[SequentialScan]
    plan: Any


@dataclass
class QueryPlans:
    """The ``query_plans`` fixture: :meth:`capture` explains what a block runs and checks it on the way out."""

    plans: list[Plan] = field(default_factory=list)

    @contextmanager
    def capture(
        self,
        target: Session | Connection | Engine | AsyncSession | AsyncConnection | AsyncEngine,
        *,
        seq_scan_rows: int | None = None,
        max_cost: float | None = None,
    ) -> Iterator[list[Plan]]:
        """Explain every statement run through ``target`` in the block; fail on leaving it if one breaks a bound.

        Args:
            target: What the code under test runs its statements through.
            seq_scan_rows: Fail on a sequential scan over a table of more rows than this.
            max_cost: Fail on a plan whose total cost is above this (PostgreSQL).

        Yields:
            The plans captured so far (also kept in :attr:`plans`).
        """
        engine = _sync_engine(target)
        captured: list[Plan] = []

        def explain(
            connection: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
        ) -> None:
            if connection.info.get(_GUARD) or not _EXPLAINED.match(statement):
                return
            connection.info[_GUARD] = True
            try:
                first = parameters[0] if many and parameters else parameters
                captured.append(_explain(connection, statement, first, seq_scan_rows))
            finally:
                connection.info.pop(_GUARD, None)

        event.listen(engine, "after_cursor_execute", explain)
        try:
            yield captured
        finally:
            event.remove(engine, "after_cursor_execute", explain)
            self.plans += captured
        problems = [problem for plan in captured for problem in _problems(plan, seq_scan_rows, max_cost)]
        if problems:
            raise PlanCheckError("\n\n".join(problems))


def _sync_engine(target: Any) -> Engine:
    if isinstance(target, AsyncSession):
        target = target.sync_session
    if isinstance(target, AsyncConnection | AsyncEngine):
        target = target.sync_engine
    if isinstance(target, Session):
        bind = target.get_bind()
        target = bind if isinstance(bind, Engine) else bind.engine
    return target.engine if isinstance(target, Connection) else target


def _explain(connection: Connection, statement: str, parameters: Any, seq_scan_rows: int | None) -> Plan:
    if connection.dialect.name == "postgresql":
        tree = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar_one()
        root = (json.loads(tree) if isinstance(tree, str) else tree)[0]["Plan"]
        nodes = list(_nodes(root))
        scans = [
            _scan(connection, statement, parameters, node, root["Total Cost"], seq_scan_rows)
            for node in nodes
            if node["Node Type"] == "Seq Scan"
        ]
        return Plan(statement, float(root["Total Cost"]), scans, root)
    lines = [str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    tables = {
        str(name) for (name,) in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    # "SCAN orders" (older SQLite: "SCAN TABLE orders") reads the table whole; "SCAN ... USING INDEX" does not.
    words = [
        line.removeprefix("SCAN TABLE ").removeprefix("SCAN ").split() for line in lines if line.startswith("SCAN ")
    ]
    full = [w[0] for w in words if w and w[0] in tables and "USING" not in w]
    return Plan(statement, None, [SequentialScan(table, _rows(connection, table)) for table in full], lines)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _rows(connection: Connection, table: str) -> int:
    return int(connection.exec_driver_sql(f"SELECT count(*) FROM {quote_identifier(table)}").scalar_one())


def _scan(  # noqa: PLR0917 - what a suggestion needs
    connection: Connection,
    statement: str,
    parameters: Any,
    node: dict[str, Any],
    cost: float,
    seq_scan_rows: int | None,
) -> SequentialScan:
    table = str(node["Relation Name"])
    rows = _rows(connection, table)
    suggestion = None
    if seq_scan_rows is not None and rows > seq_scan_rows and node.get("Filter"):
        suggestion = _suggest(connection, statement, parameters, table, str(node["Filter"]), cost)
    return SequentialScan(table, rows, suggestion)


def _suggest(  # noqa: PLR0917 - what a suggestion needs
    connection: Connection, statement: str, parameters: Any, table: str, condition: str, cost: float
) -> str | None:
    """The index on the filtered columns that lowers the cost most, if hypopg can prove it lowers it enough."""
    # Literals, not parameters: the driver's parameter style (psycopg's or asyncpg's) is the caller's.
    columns = [
        str(name)
        for (name,) in connection.exec_driver_sql(
            "SELECT attname FROM pg_attribute WHERE attnum > 0 AND NOT attisdropped "
            f"AND attrelid = to_regclass({quote_literal(quote_identifier(table))})"
        )
    ]
    used = sorted((condition.find(c), c) for c in columns if re.search(rf"\b{re.escape(c)}\b", condition))
    candidates = [[column] for _, column in used] + ([[column for _, column in used]] if len(used) > 1 else [])
    if not candidates:
        return None
    # Everything hypopg leaves (the extension, its hypothetical indexes) goes with the savepoint.
    try:
        connection.exec_driver_sql("SAVEPOINT schemakit_hypopg")
    except DBAPIError:
        return None
    try:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS hypopg")
        best: tuple[float, str] | None = None
        for candidate in candidates:
            quote = connection.dialect.identifier_preparer.quote
            ddl = f"CREATE INDEX ON {quote(table)} ({', '.join(map(quote, candidate))})"
            connection.exec_driver_sql("SELECT hypopg_reset()")
            connection.exec_driver_sql(f"SELECT * FROM hypopg_create_index({quote_literal(ddl)})")
            tree = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar_one()
            new_cost = float((json.loads(tree) if isinstance(tree, str) else tree)[0]["Plan"]["Total Cost"])
            if best is None or new_cost < best[0]:
                best = (new_cost, ddl)
        connection.exec_driver_sql("SELECT hypopg_reset()")
    except DBAPIError:
        best = None  # no hypopg on this server
    finally:
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT schemakit_hypopg")
        connection.exec_driver_sql("RELEASE SAVEPOINT schemakit_hypopg")
    if best is None or best[0] > (1 - MIN_GAIN) * cost:
        return None
    return f"{best[1]} (cost {cost:.1f} -> {best[0]:.1f} with it, proven by a hypothetical index)"


def _problems(plan: Plan, seq_scan_rows: int | None, max_cost: float | None) -> Iterator[str]:
    where = f"in: {plan.statement.strip()}"
    if seq_scan_rows is not None:
        for scan in plan.scans:
            if scan.rows > seq_scan_rows:
                hint = f"\n  suggested: {scan.suggestion}" if scan.suggestion else ""
                size = f"{scan.rows:,} rows; the bound is {seq_scan_rows:,}"
                yield f"sequential scan over {scan.table} ({size}) {where}{hint}"
    if max_cost is not None and plan.cost is not None and plan.cost > max_cost:
        yield f"plan cost {plan.cost:.1f} is above {max_cost:g} {where}"


@pytest.fixture
def query_plans() -> QueryPlans:
    """Plan checks for the statements a test's code issues: ``with query_plans.capture(session, ...)``."""
    return QueryPlans()
