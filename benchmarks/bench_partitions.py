"""Time partitions on UUIDv7 ids against the same table unpartitioned.

10,000,000 rows (quick: 1,000,000) with ids spread evenly over 24 months, in a table range-partitioned by month
on ``id`` (schemakit's ``ensure_partitions``) and in the same table without partitions, on a throwaway cluster.
Interleaved, both tables:

* a month's range query (``count`` and ``sum`` over ``created_between`` one month: the partitioned table reads
  one partition), a different month each round;
* 2,000 lookups by id, with a bound parameter on one prepared statement (so PostgreSQL's generic plan prunes at
  run time, as an application's prepared statements do), and again with ``plan_cache_mode = force_custom_plan``
  on the partitioned table (pruned while planning, planned each time).

Reported: medians and the ratios partitioned / unpartitioned (``partition_range_query_ratio``,
``partition_lookup_ratio``), written to ``partitions.json`` and into ``scale.json``.

    python -m benchmarks.bench_partitions [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from benchmarks.common import Measurement, header, merge_into, postgres, save, table
from schemakit import DatabaseSettings, make_engine
from schemakit.partitioning import ensure_partitions, id_bound, next_start
from schemakit.provisioning import PostgresDatabases

MONTHS = 24
START = datetime(2025, 1, 1, tzinfo=UTC)
LOOKUPS = 2_000
FILL = """
INSERT INTO {table} (id, kind, payload)
SELECT (lpad(to_hex(:start_ms + (i * :span_ms / :rows)), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8'
        || substr(md5(i::text), 4, 15))::uuid,
       i % 10, repeat('x', 60)
FROM generate_series(0, :rows - 1) AS i
"""


def _fill(url: str, rows: int) -> None:
    engine = make_engine(DatabaseSettings.for_url(url))
    end = next_start(START, "month", MONTHS)
    span_ms = int((end - START).total_seconds() * 1000)
    params = {"start_ms": int(START.timestamp() * 1000), "span_ms": span_ms, "rows": rows}
    try:
        with engine.begin() as connection:
            for name in ("events_plain", "events"):
                partition = " PARTITION BY RANGE (id)" if name == "events" else ""
                connection.execute(
                    text(f"CREATE TABLE {name} (id uuid PRIMARY KEY, kind int NOT NULL, payload text){partition}")
                )
            ensure_partitions(connection, "events", interval="month", ahead=MONTHS - 1, now=START)
        for name in ("events_plain", "events"):
            started = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(text(FILL.format(table=name)), params)
            print(f"filled {name} with {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def _month(step: int) -> tuple[str, str]:
    start = next_start(START, "month", step)
    return str(id_bound(start)), str(id_bound(next_start(start, "month")))


def run(rows: int, rounds: int) -> tuple[list[Measurement], dict[str, float]]:
    with postgres() as server:
        print(header(f"Time partitions: {rows:,} rows over {MONTHS} months", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_partitions_test")
        database = databases.create_empty("partitions")
        try:
            url = database.url.render_as_string(hide_password=False)
            _fill(url, rows)
            conninfo = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(conninfo, autocommit=True) as connection:
                ids = [row[0] for row in connection.execute("SELECT id FROM events_plain TABLESAMPLE SYSTEM (1)")]
                probe = random.Random(7).sample(ids, LOOKUPS)
                lo, hi = _month(5)
                plan = connection.execute(f"EXPLAIN SELECT count(*) FROM events WHERE id >= '{lo}' AND id < '{hi}'")
                print("\n".join(row[0] for row in plan))
                keys = ("range", "range_plain", "get", "get_plain", "get_custom")
                samples: dict[str, list[float]] = {key: [] for key in keys}
                for round_ in range(rounds):
                    lo, hi = _month(round_ % MONTHS)
                    for name, key in (("events", "range"), ("events_plain", "range_plain")):
                        query = f"SELECT count(*), sum(kind) FROM {name} WHERE id >= %s AND id < %s"
                        started = time.perf_counter()
                        connection.execute(query, (lo, hi)).fetchone()
                        samples[key].append(time.perf_counter() - started)
                    for name, key, mode in (
                        ("events", "get", "auto"),
                        ("events_plain", "get_plain", "auto"),
                        ("events", "get_custom", "force_custom_plan"),
                    ):
                        connection.execute(f"SET plan_cache_mode = {mode}")
                        query = f"SELECT id, kind, payload FROM {name} WHERE id = %s"
                        started = time.perf_counter()
                        for value in probe:
                            connection.execute(query, (value,), prepare=True).fetchone()
                        samples[key].append(time.perf_counter() - started)
        finally:
            databases.drop(database)
    measurements = [
        Measurement("a month's range query, unpartitioned", samples["range_plain"]),
        Measurement("a month's range query, partitioned", samples["range"], "a month's range query, unpartitioned"),
        Measurement(f"{LOOKUPS:,} lookups by id, unpartitioned", samples["get_plain"]),
        Measurement(
            f"{LOOKUPS:,} lookups by id, partitioned", samples["get"], f"{LOOKUPS:,} lookups by id, unpartitioned"
        ),
        Measurement(
            f"{LOOKUPS:,} lookups by id, partitioned, custom plans",
            samples["get_custom"],
            f"{LOOKUPS:,} lookups by id, unpartitioned",
        ),
    ]
    headline = {
        "partition_rows": rows,
        "partition_range_query_ratio": round(measurements[1].median / measurements[0].median, 3),
        "partition_lookup_ratio": round(measurements[3].median / measurements[2].median, 3),
        "partition_lookup_custom_plan_ratio": round(measurements[4].median / measurements[2].median, 3),
    }
    return measurements, headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows")
    arguments = parser.parse_args()
    rows, rounds = (1_000_000, 7) if arguments.quick else (10_000_000, 15)
    measurements, headline = run(rows, rounds)
    print(table(measurements))
    print(
        f"partitioned / unpartitioned: range query {headline['partition_range_query_ratio']:.2f}x, "
        f"lookup {headline['partition_lookup_ratio']:.2f}x"
    )
    path = save("partitions", "Time partitions", measurements, quick=arguments.quick, **headline)
    merge_into("scale", path, headline, measurements)
    print(f"results: {path} (and scale.json beside it)")


if __name__ == "__main__":
    main()
