"""A restore drill of a 1,000,000-row database: what the verification adds to the plain ``pg_restore`` (PostgreSQL).

The database: 10,000 customers and 1,000,000 orders (UUIDv7 keys, a foreign key, an index, a serial column).
Each run backs it up with ``schemakit db backup``'s code path, then restores the archive twice into fresh
databases, interleaved: once with ``pg_restore`` alone (the baseline), once as the drill does it, followed by
the drill's verification against the manifest. Goal: the verification adds at most 50 % to the plain restore.

    python -m benchmarks.bench_drill [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import Measurement, header, postgres, save, table
from schemakit import DatabaseSettings, make_engine
from schemakit.backups import backup, verify_restore
from schemakit.backups.postgres import restore_archive
from schemakit.provisioning import PostgresDatabases
from schemakit.sql import functions_ddl

RUNS = 3


def build(settings: DatabaseSettings, rows: int) -> None:
    engine = make_engine(settings, pool=False)
    with engine.begin() as connection:
        for statement in functions_ddl("postgresql"):
            connection.execute(text(statement))
        connection.execute(text("CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)"))
        connection.execute(
            text("INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 10000) i")
        )
        connection.execute(
            text(
                "CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT schemakit_uuid7(), "
                "customer_id integer NOT NULL REFERENCES customers (id), total numeric(12, 2) NOT NULL, "
                "note text, placed_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        connection.execute(
            text(
                "INSERT INTO orders (customer_id, total, note) "
                f"SELECT 1 + i % 10000, (i % 10000) / 100.0, 'order ' || i FROM generate_series(1, {rows}) i"
            )
        )
        connection.execute(text("CREATE INDEX ix_orders_customer ON orders (customer_id)"))
        connection.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('bench')"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    arguments = parser.parse_args()
    rows = 100_000 if arguments.quick else 1_000_000
    with postgres() as server, tempfile.TemporaryDirectory() as work:
        print(header("A restore drill: verification against the plain restore", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_drill_test")
        source = databases.create_empty("source")
        settings = DatabaseSettings.for_url(source.url)
        build(settings, rows)
        backups, plain, drilled, verified = [], [], [], []
        try:
            for run in range(RUNS):
                archive = Path(work) / f"run{run}.dump"
                started = time.perf_counter()
                manifest = backup(settings, archive)
                backups.append(time.perf_counter() - started)
                for mode in ("plain", "drill") if run % 2 == 0 else ("drill", "plain"):
                    target = databases.create_empty(f"{mode}{run}")
                    try:
                        seconds = restore_archive(archive, target.url)
                        if mode == "plain":
                            plain.append(seconds)
                        else:
                            drilled.append(seconds)
                            started = time.perf_counter()
                            found = verify_restore(manifest, target.url)
                            verified.append(time.perf_counter() - started)
                            if found:
                                raise SystemExit(f"the drill found differences in a clean run: {found}")
                    finally:
                        databases.drop(target)
            size = archive.stat().st_size
        finally:
            databases.drop(source)
    measurements = [
        Measurement("pg_restore alone", plain),
        Measurement("drill: restore", drilled, "pg_restore alone"),
        Measurement("drill: verification", verified, "pg_restore alone"),
        Measurement("backup with manifest", backups),
    ]
    print(table(measurements, unit="s", scale=1.0))
    added = statistics.median(verified) / statistics.median(plain)
    print(f"\nrows: {rows:,}; archive: {size:,} bytes")
    print(f"the verification adds {added:.0%} to the plain restore (goal: at most 50 %)")
    path = save(
        "drill",
        "A restore drill: verification against the plain restore",
        measurements,
        quick=arguments.quick,
        rows=rows,
        archive_bytes=size,
        verification_added=round(added, 3),
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
