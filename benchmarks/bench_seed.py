"""The seed loader's throughput against raw COPY. Goal: at least 0.35x of COPY's rows per second.

100,000 product rows (quick: 20,000) are loaded by ``schemakit.seeding.seed`` (natural keys, deterministic
ids, one transaction, INSERT ... ON CONFLICT) and by asyncpg's ``copy_records_to_table`` into the same empty,
migrated table.

    python -m benchmarks.bench_seed [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

import example_app.models  # noqa: F401 - the models the fixtures name
from benchmarks.common import Measurement, header, postgres, save, table
from schemakit import Base, DatabaseSettings, make_engine
from schemakit.ids import deterministic_uuid7
from schemakit.seeding import Fixture, seed
from schemakit.testing.databases import PostgresTestDatabases

ROOT = Path(__file__).parent.parent


def fixture_rows(count: int) -> list[dict[str, str]]:
    return [{"sku": f"SKU-{n:07}", "name": f"Product {n}", "price": f"{n % 500}.99"} for n in range(count)]


async def copy(dsn: str, rows: list[dict[str, str]]) -> None:
    connection = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    records = [
        (deterministic_uuid7("products", row["sku"]), row["sku"], row["name"], Decimal(row["price"]), "{}", 1, now, now)
        for row in rows
    ]
    columns = ["id", "sku", "name", "price", "attributes", "version", "created_at", "updated_at"]
    await connection.copy_records_to_table("products", records=records, columns=columns)
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 100,000")
    arguments = parser.parse_args()
    count, repeats = (20_000, 3) if arguments.quick else (100_000, 5)
    title = f"Seed loader against COPY, {count:,} rows"
    rows = fixture_rows(count)
    with postgres() as server:
        print(header(title, server))
        databases = PostgresTestDatabases(server.url, "bench_seed", ROOT / "alembic.ini")
        databases.ensure_template()
        seconds: dict[str, list[float]] = {"COPY": [], "seed": []}
        for _ in range(repeats):
            for method, samples in seconds.items():
                database = databases.clone(f"seed_{uuid.uuid4().hex[:8]}")
                started = time.perf_counter()
                if method == "COPY":
                    asyncio.run(
                        copy(database.url.set(drivername="postgresql").render_as_string(hide_password=False), rows)
                    )
                else:
                    engine = make_engine(
                        DatabaseSettings(database_url=database.url.render_as_string(hide_password=False))
                    )
                    with engine.connect() as connection:
                        seed(connection, [Fixture("Product", ("sku",), rows)], mappers=Base.registry)
                    engine.dispose()
                samples.append(time.perf_counter() - started)
                databases.drop(database)
    measurements = [
        Measurement("asyncpg copy_records_to_table", seconds["COPY"]),
        Measurement("schemakit seed (create-only)", seconds["seed"], baseline="asyncpg copy_records_to_table"),
    ]
    print(f"\n## Loading {count:,} rows, median of {repeats} runs\n{table(measurements, unit='s', scale=1)}")
    for measurement in measurements:
        measurement.extra["rows_per_second"] = count / measurement.median
        print(f"{measurement.name:<32} {count / measurement.median:>12,.0f} rows/s")
    share = measurements[0].median / measurements[1].median
    print(f"seed throughput = {share:.2f}x of COPY (goal: at least 0.35x)")
    path = save("seed", title, measurements, quick=arguments.quick, rows=count, share_of_copy=share)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
