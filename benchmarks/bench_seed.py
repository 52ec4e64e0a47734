"""The seed loader's throughput against raw COPY.

Goal: at least 0.40x of COPY's rows per second at 100,000 rows, and the loader's rows per second the same from
10,000 to 400,000 rows (within 20 %). Product rows are loaded by ``schemakit.seeding.seed`` (natural keys,
deterministic ids, one transaction) and by asyncpg's ``copy_records_to_table`` into the same empty, migrated
table: 10,000, 100,000 and 400,000 rows (quick: 20,000).

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


def load(databases: PostgresTestDatabases, method: str, rows: list[dict[str, str]]) -> float:
    """Load ``rows`` into a fresh copy of the migrated database; return the seconds it took."""
    database = databases.clone(f"seed_{uuid.uuid4().hex[:8]}")
    started = time.perf_counter()
    if method == "COPY":
        asyncio.run(copy(database.url.set(drivername="postgresql").render_as_string(hide_password=False), rows))
    else:
        engine = make_engine(DatabaseSettings(database_url=database.url.render_as_string(hide_password=False)))
        with engine.connect() as connection:
            seed(connection, [Fixture("Product", ("sku",), rows)], mappers=Base.registry)
        engine.dispose()
    seconds = time.perf_counter() - started
    databases.drop(database)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, fewer runs")
    arguments = parser.parse_args()
    sizes, repeats = ((20_000,), 3) if arguments.quick else ((10_000, 100_000, 400_000), 5)
    title = "Seed loader against COPY"
    measurements = []
    with postgres() as server:
        print(header(title, server))
        databases = PostgresTestDatabases(server.url, "bench_seed", ROOT / "alembic.ini")
        databases.ensure_template()
        for count in sizes:
            rows = fixture_rows(count)
            seconds: dict[str, list[float]] = {"COPY": [], "seed": []}
            for round_ in range(repeats):
                for method in ("COPY", "seed") if round_ % 2 == 0 else ("seed", "COPY"):
                    seconds[method].append(load(databases, method, rows))
            baseline = f"{count:,} rows: asyncpg copy_records_to_table"
            measurements += [
                Measurement(baseline, seconds["COPY"], extra={"rows": count}),
                Measurement(
                    f"{count:,} rows: schemakit seed (create-only)", seconds["seed"], baseline, {"rows": count}
                ),
            ]
    print(f"\n## Median of {repeats} runs\n{table(measurements, unit='s', scale=1)}")
    for measurement in measurements:
        measurement.extra["rows_per_second"] = measurement.extra["rows"] / measurement.median
        print(f"{measurement.name:<48} {measurement.extra['rows_per_second']:>12,.0f} rows/s")
    named = {m.name: m for m in measurements}
    shares = {m.extra["rows"]: named[m.baseline].median / m.median for m in measurements if m.baseline}
    for count, share in shares.items():
        print(f"seed throughput at {count:,} rows = {share:.2f}x of COPY")
    path = save("seed", title, measurements, quick=arguments.quick, share_of_copy=shares)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
