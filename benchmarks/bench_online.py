"""Changing a busy table: plain Alembic operations against schemakit's online operations (PostgreSQL).

A table of 1,000,000 rows (``--quick``: 100,000) with UUIDv7 keys, and 8 client connections (asyncpg, in a
process of their own) reading and updating random rows in short transactions, each query bounded by a 30 s
timeout. Six changes are applied one after the other as migrations through schemakit's ``env.py``, once with
plain Alembic operations (each change one migration) and once with the online operations, each mode on a fresh
copy of the table:

1. ``add_column_backfill``: a nullable column, filled for every row;
2. ``set_not_null``: that column made NOT NULL;
3. ``foreign_key``: a foreign key to a 10,000-row table;
4. ``index``: an index on an existing column;
5. ``unique``: a unique constraint on the filled column;
6. ``rename``: a column renamed (online: expanded, then contracted).

A seventh, ``add_column_behind_long_reader``, adds a column while one more session holds a read transaction on
the table for 3 s: a plain ``ALTER TABLE`` queues behind it, and every client queues behind the ALTER.

For each change and mode: the clients' failed queries, the worst stall any client saw (the longest query that
overlapped the migration), the clients' p99 latency during the migration, and the migration's duration. Then
``resume_after_kill``: a backfill killed with SIGKILL half way and run again; rows updated more than once (a
counter column) and whether the final table matches the reference. Goals: in online mode 0 failed queries and
a worst stall of at most 200 ms for every change; the backfill at most 2.5x a single UPDATE; after the kill, 0
rows updated twice and the final table identical.

    python -m benchmarks.bench_online [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from textwrap import indent
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from benchmarks.common import ALEMBIC_LOGGING, header, postgres, results_folder
from schemakit import AppEnv, DatabaseSettings, make_engine
from schemakit.migrations import make_config, upgrade
from schemakit.provisioning import PostgresDatabases
from schemakit.sql import functions_ddl, updated_at_trigger_ddl

CLIENTS = 8
CUSTOMERS = 10_000
PAUSE_S = 0.002
LONG_READ_S = 3.0

ENV = """
from sqlalchemy import MetaData
from schemakit.migrations import run_migrations

run_migrations(MetaData())
"""

INI = (
    """
[alembic]
script_location = %(here)s/alembic
"""
    + ALEMBIC_LOGGING
)

FILL = "'N-' || CAST(id AS TEXT)"

REVISION = """import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None
phase = {phase!r}


def upgrade():
{body}


def downgrade():
    pass
"""

# change name -> (plain revision bodies, online revision bodies); each body is one revision's upgrade().
CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "add_column_backfill": (
        [
            'op.add_column("bench_orders", sa.Column("code", sa.Text()))\n'
            f'op.execute("UPDATE bench_orders SET code = {FILL}")'
        ],
        [
            'op.add_column_online("bench_orders", sa.Column("code", sa.Text()))\n'
            f'op.backfill("bench_orders", {{"code": "{FILL}"}})'
        ],
    ),
    "set_not_null": (
        ['op.alter_column("bench_orders", "code", nullable=False)'],
        ['op.set_not_null_online("bench_orders", "code")'],
    ),
    "foreign_key": (
        [
            'op.create_foreign_key("fk_bench_orders_customer", "bench_orders", "bench_customers", '
            '["customer_id"], ["id"])'
        ],
        [
            'op.create_foreign_key_online("fk_bench_orders_customer", "bench_orders", "bench_customers", '
            '["customer_id"], ["id"])'
        ],
    ),
    "index": (
        ['op.create_index("ix_bench_orders_customer", "bench_orders", ["customer_id"])'],
        ['op.create_index_online("ix_bench_orders_customer", "bench_orders", ["customer_id"])'],
    ),
    "unique": (
        ['op.create_unique_constraint("uq_bench_orders_code", "bench_orders", ["code"])'],
        ['op.create_unique_constraint_online("uq_bench_orders_code", "bench_orders", ["code"])'],
    ),
    "rename": (
        ['op.alter_column("bench_orders", "note", new_column_name="memo")'],
        [
            'op.expand_column("bench_orders", "note", "memo", type_=sa.Text())',
            'op.contract_column("bench_orders", "note", "memo")',
        ],
    ),
    "add_column_behind_long_reader": (
        ['op.add_column("bench_orders", sa.Column("flag", sa.Boolean()))'],
        ['op.add_column_online("bench_orders", sa.Column("flag", sa.Boolean()))'],
    ),
}


def write_project(folder: Path, mode: str) -> list[list[str]]:
    """An Alembic project whose revisions apply the changes in ``mode``; the revision ids of each change."""
    versions = folder / "alembic" / "versions"
    versions.mkdir(parents=True)
    (folder / "alembic.ini").write_text(INI)
    (folder / "alembic" / "env.py").write_text(ENV)
    down: str | None = None
    steps: list[list[str]] = []
    number = 0
    for change, bodies in CHANGES.items():
        ids = []
        for body in bodies[0 if mode == "plain" else 1]:
            number += 1
            revision = f"r{number:03}"
            contract = body.startswith("op.contract_column")
            source = REVISION.format(
                revision=revision, down=down, phase="contract" if contract else "expand", body=indent(body, "    ")
            )
            (versions / f"{number:03}_{change}.py").write_text(source)
            down = revision
            ids.append(revision)
        steps.append(ids)
    return steps


def build_table(engine: Engine, rows: int) -> None:
    """The busy table, its 10,000 customers, schemakit's functions and the updated_at trigger."""
    with engine.begin() as connection:
        for statement in functions_ddl("postgresql"):
            connection.execute(text(statement))
        connection.execute(text("CREATE TABLE bench_customers (id integer PRIMARY KEY)"))
        connection.execute(text(f"INSERT INTO bench_customers SELECT generate_series(1, {CUSTOMERS})"))
        connection.execute(
            text(
                "CREATE TABLE bench_orders (id uuid PRIMARY KEY DEFAULT schemakit_uuid7(), "
                "customer_id integer NOT NULL, amount numeric(12, 2) NOT NULL DEFAULT 0, note text, "
                "counter integer NOT NULL DEFAULT 0, "
                "updated_at timestamptz NOT NULL DEFAULT '2001-01-01 00:00:00+00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO bench_orders (customer_id, amount, note) "
                f"SELECT 1 + i % {CUSTOMERS}, i % 1000, 'note ' || i FROM generate_series(1, {rows}) AS i"
            )
        )
        for statement in updated_at_trigger_ddl("postgresql", "bench_orders"):
            connection.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE bench_orders"))
        connection.execute(text("VACUUM ANALYZE bench_customers"))


def sample_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            str(i) for i in connection.scalars(text("SELECT id FROM bench_orders TABLESAMPLE SYSTEM (2) LIMIT 20000"))
        ]


# ---- the clients: 8 asyncpg connections in a process of their own ----


async def _client(dsn: str, ids: list[str], stop: Any, records: list[tuple[float, float, bool]]) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, command_timeout=30)
    chooser = random.Random()
    while not stop.is_set():
        key = chooser.choice(ids)
        started = time.monotonic()
        ok = True
        try:
            if chooser.random() < 0.5:
                await connection.fetchval("SELECT amount FROM bench_orders WHERE id = $1::uuid", key)
            else:
                await connection.execute(
                    "UPDATE bench_orders SET amount = amount + 1, customer_id = $2 WHERE id = $1::uuid",
                    key,
                    chooser.randint(1, CUSTOMERS),
                )
        except Exception:
            ok = False
            if connection.is_closed():
                connection = await asyncpg.connect(dsn, command_timeout=30)
        records.append((started, time.monotonic(), ok))
        await asyncio.sleep(PAUSE_S)
    await connection.close()


def _clients_main(dsn: str, ids: list[str], stop: Any, ready: Any, output: str) -> None:
    records: list[tuple[float, float, bool]] = []

    async def run() -> None:
        tasks = [asyncio.create_task(_client(dsn, ids, stop, records)) for _ in range(CLIENTS)]
        await asyncio.sleep(0.5)
        ready.set()
        await asyncio.gather(*tasks)

    asyncio.run(run())
    Path(output).write_text(json.dumps(records))


class Clients:
    """The clients' process: started, then stopped, handing back every query's start, end and success."""

    def __init__(self, dsn: str, ids: list[str], folder: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        ready = context.Event()
        self.output = folder / f"clients-{time.monotonic_ns()}.json"
        self.process = context.Process(target=_clients_main, args=(dsn, ids, self.stop, ready, str(self.output)))
        self.process.start()
        if not ready.wait(60):
            raise RuntimeError("the clients did not start")

    def finish(self) -> list[tuple[float, float, bool]]:
        """Stop the clients; every query's start, end (monotonic seconds) and success."""
        self.stop.set()
        self.process.join(120)
        return [tuple(record) for record in json.loads(self.output.read_text())]


def window_stats(records: list[tuple[float, float, bool]], start: float, end: float) -> dict[str, Any]:
    """The clients' view of one window: failed queries, the worst stall, p99 latency, queries run."""
    during = [r for r in records if r[0] <= end and r[1] >= start]
    latencies = sorted(r[1] - r[0] for r in during)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return {
        "failed_queries": sum(1 for r in during if not r[2]),
        "worst_stall_ms": round(max(latencies, default=0.0) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "client_queries": len(during),
    }


def hold_read_lock(engine: Engine, seconds: float) -> threading.Thread:
    """A session holding a read transaction on the table for ``seconds``, as a long report would."""
    started = threading.Event()

    def hold() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT count(*) FROM bench_orders WHERE id IS NULL"))
            started.set()
            time.sleep(seconds)
            connection.rollback()

    thread = threading.Thread(target=hold)
    thread.start()
    started.wait()
    return thread


def run_mode(mode: str, url: URL, rows: int, folder: Path) -> list[dict[str, Any]]:
    """Build the table, start the clients, apply every change; one result per change."""
    engine = make_engine(DatabaseSettings.for_url(url), pool=False)
    build_table(engine, rows)
    ids = sample_ids(engine)
    project = folder / mode
    steps = write_project(project, mode)
    config = make_config(project / "alembic.ini", settings=DatabaseSettings.for_url(url, app_env=AppEnv.TEST))
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    clients = Clients(dsn, ids, folder)
    windows: list[tuple[str, float, float]] = []
    try:
        time.sleep(2.0)
        windows.append(("no_change", time.monotonic() - 2.0, time.monotonic()))
        for change, revisions in zip(CHANGES, steps, strict=True):
            reader = hold_read_lock(engine, LONG_READ_S) if change == "add_column_behind_long_reader" else None
            started = time.monotonic()
            for revision in revisions:
                upgrade(config, revision)
            windows.append((change, started, time.monotonic()))
            if reader is not None:
                reader.join()
            print(f"  {mode:6} {change:30} {windows[-1][2] - started:8.2f} s", flush=True)
            time.sleep(1.0)
    finally:
        records = clients.finish()
        engine.dispose()
    results = []
    for change, start, end in windows:
        stats = window_stats(records, start, end)
        results.append(
            {
                "change": change,
                "mode": "baseline" if change == "no_change" else mode,
                **stats,
                "duration_s": round(end - start, 3),
            }
        )
    return results


RESUME_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "resume"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.backfill("bench_orders", {"counter": "counter + 1", "note": "'done ' || CAST(id AS TEXT)"}, batch_size=5000)


def downgrade():
    pass
"""


def resume_after_kill(url: URL, rows: int, folder: Path) -> dict[str, Any]:
    """Kill a backfill half way with SIGKILL, run it again, and check every row was updated exactly once."""
    engine = make_engine(DatabaseSettings.for_url(url), pool=False)
    build_table(engine, rows)
    project = folder / "resume"
    (project / "alembic" / "versions").mkdir(parents=True)
    (project / "alembic.ini").write_text(INI)
    (project / "alembic" / "env.py").write_text(ENV)
    (project / "alembic" / "versions" / "resume.py").write_text(RESUME_REVISION)
    command = [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"]
    environment = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False), "APP_ENV": "test"}
    run = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed_at = 0
    while run.poll() is None:
        with engine.connect() as connection:
            if connection.scalar(text("SELECT to_regclass('schemakit_backfill_progress') IS NOT NULL")):
                killed_at = connection.scalar(
                    text("SELECT coalesce(max(rows_done), 0) FROM schemakit_backfill_progress")
                )
        if killed_at >= rows // 2:
            run.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    run.communicate()
    rerun = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if rerun.returncode != 0:
        raise RuntimeError(f"the second run failed: {rerun.stderr}")
    with engine.connect() as connection:
        twice = connection.scalar(text("SELECT count(*) FROM bench_orders WHERE counter > 1"))
        wrong = connection.scalar(
            text("SELECT count(*) FROM bench_orders WHERE counter <> 1 OR note IS DISTINCT FROM 'done ' || id::text")
        )
        untouched = connection.scalar(text("SELECT count(*) FROM bench_orders WHERE updated_at <> '2001-01-01'"))
    engine.dispose()
    return {
        "change": "resume_after_kill",
        "rows_updated_twice": int(twice or 0),
        "final_matches": wrong == 0,
        "killed_after_rows": int(killed_at),
        "rows": rows,
        "updated_at_moved": int(untouched or 0),
    }


def report(results: list[dict[str, Any]], rows: int) -> str:
    lines = [f"{'change':30} {'mode':8} {'failed':>6} {'worst ms':>9} {'p99 ms':>8} {'duration s':>10}"]
    for r in results:
        if "mode" in r:
            lines.append(
                f"{r['change']:30} {r['mode']:8} {r['failed_queries']:>6} {r['worst_stall_ms']:>9.1f} "
                f"{r['p99_ms']:>8.1f} {r['duration_s']:>10.2f}"
            )
    by = {(r["change"], r.get("mode")): r for r in results}
    backfill = by[("add_column_backfill", "online")]["duration_s"] / by[("add_column_backfill", "plain")]["duration_s"]
    resume = by[("resume_after_kill", None)]
    online = [r for r in results if r.get("mode") == "online"]
    lines += [
        "",
        f"rows: {rows:,}; clients: {CLIENTS}",
        f"online, every change: failed queries {sum(r['failed_queries'] for r in online)} (goal 0), worst stall "
        f"{max(r['worst_stall_ms'] for r in online):.0f} ms (goal at most 200 ms)",
        f"backfill: {backfill:.2f}x a single UPDATE (goal at most 2.5x)",
        f"after SIGKILL at {resume['killed_after_rows']:,} rows: {resume['rows_updated_twice']} rows updated twice, "
        f"final table {'identical' if resume['final_matches'] else 'DIFFERENT'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    arguments = parser.parse_args()
    rows = 100_000 if arguments.quick else 1_000_000
    with postgres() as server, tempfile.TemporaryDirectory() as work:
        print(header("Changing a busy table: plain against online operations", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_online_test")
        results: list[dict[str, Any]] = []
        for mode in ("plain", "online"):
            database = databases.create_empty(mode)
            try:
                results += run_mode(mode, database.url, rows, Path(work))
            finally:
                databases.drop(database)
        database = databases.create_empty("resume")
        try:
            results.append(resume_after_kill(database.url, rows, Path(work)))
        finally:
            databases.drop(database)
    print(report(results, rows))
    path = results_folder(quick=arguments.quick) / "online.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
