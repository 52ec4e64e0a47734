"""Primary-key types on PostgreSQL: does a UUIDv7 key really keep index locality?

Tables keyed by UUIDv4 (client), UUIDv7 (schemakit's generator, client), UUIDv7 (the server default
``schemakit_uuid7()``) and a bigint identity are loaded with N rows by COPY and by batched inserts. Then:
primary-key and table size, WAL written, the primary key's leaf density (pgstattuple's ``pgstatindex``), a
steady-state append after a CHECKPOINT (WAL and full-page images per row), a key-ordered scan (keyset
pagination) of 100,000 rows, and the case that breaks the claim: 4 concurrent writers bulk-inserting.

    python -m benchmarks.bench_keys [--quick]     # N = 1,000,000 (quick: 100,000)

The throwaway cluster runs with full_page_writes on, so full-page images are counted as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import asyncpg

from benchmarks.common import header, results_folder, save
from schemakit.ids import uuid7
from schemakit.provisioning import provide_postgres
from schemakit.sql import functions_ddl

ROOT = Path(__file__).parent.parent
BATCH = 1000
PAYLOAD = "x" * 60


@dataclass(frozen=True)
class KeyType:
    name: str
    column: str
    make: Callable[[], Any] | None  # None: the server assigns the key


KEYS = [
    KeyType("uuid4 (client)", "uuid PRIMARY KEY", uuid.uuid4),
    KeyType("uuid7 (client, schemakit)", "uuid PRIMARY KEY", uuid7),
    KeyType("uuid7 (server default)", "uuid PRIMARY KEY DEFAULT schemakit_uuid7()", None),
    KeyType("bigint identity", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", None),
]
BASELINE = "uuid7 (client, schemakit)"


@dataclass
class Result:
    key: str
    method: str
    seconds: list[float] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)


async def wal_lsn(connection: asyncpg.Connection) -> str:
    return str(await connection.fetchval("SELECT pg_current_wal_lsn()::text"))


async def wal_since(connection: asyncpg.Connection, start: str) -> float:
    return float(await connection.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", start))


async def create(connection: asyncpg.Connection, key: KeyType, table: str) -> None:
    await connection.execute(f"DROP TABLE IF EXISTS {table}")
    await connection.execute(f"CREATE TABLE {table} (id {key.column}, payload text NOT NULL)")


def rows(key: KeyType, count: int) -> list[tuple[Any, ...]]:
    return [(key.make(), PAYLOAD) for _ in range(count)] if key.make else [(PAYLOAD,) for _ in range(count)]


async def load(connection: asyncpg.Connection, key: KeyType, table: str, count: int, method: str) -> None:
    columns = ["id", "payload"] if key.make else ["payload"]
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    for start in range(0, count, BATCH * 10):
        # Keys are made as the rows are written, as an application makes them.
        batch = rows(key, min(BATCH * 10, count - start))
        if method == "copy":
            await connection.copy_records_to_table(table, records=batch, columns=columns)
        else:
            for offset in range(0, len(batch), BATCH):
                await connection.executemany(insert, batch[offset : offset + BATCH])


async def index_figures(connection: asyncpg.Connection, table: str) -> dict[str, float]:
    index = f"{table}_pkey"
    stats = await connection.fetchrow("SELECT avg_leaf_density, leaf_fragmentation FROM pgstatindex($1)", index)
    return {
        "pkey_mb": await connection.fetchval("SELECT pg_relation_size($1::regclass)", index) / 2**20,
        "table_mb": await connection.fetchval("SELECT pg_relation_size($1::regclass)", table) / 2**20,
        "leaf_density_pct": float(stats["avg_leaf_density"]),
        "leaf_fragmentation_pct": float(stats["leaf_fragmentation"]),
    }


async def steady_append(connection: asyncpg.Connection, key: KeyType, table: str, count: int) -> dict[str, float]:
    await connection.execute("CHECKPOINT")
    await connection.execute("SELECT pg_stat_force_next_flush()")
    await connection.execute("SELECT 1")
    start = await wal_lsn(connection)
    fpi_before = await connection.fetchval("SELECT wal_fpi FROM pg_stat_wal")
    await load(connection, key, table, count, "insert")
    wal = await wal_since(connection, start)
    # WAL statistics reach pg_stat_wal when the backend flushes them; force it.
    await connection.execute("SELECT pg_stat_force_next_flush()")
    await connection.execute("SELECT 1")
    fpi = await connection.fetchval("SELECT wal_fpi FROM pg_stat_wal") - fpi_before
    return {"append_wal_bytes_per_row": wal / count, "append_fpi_per_1000_rows": fpi * 1000 / count}


async def keyset_scan(connection: asyncpg.Connection, table: str, count: int) -> float:
    pages, last = count // 1000, None
    started = time.perf_counter()
    first = f"SELECT id, payload FROM {table} ORDER BY id LIMIT 1000"
    following = f"SELECT id, payload FROM {table} WHERE id > $1 ORDER BY id LIMIT 1000"
    for _ in range(pages):
        page = await (connection.fetch(following, last) if last is not None else connection.fetch(first))
        last = page[-1]["id"]
    return time.perf_counter() - started


async def concurrent_load(dsn: str, key: KeyType, table: str, count: int, writers: int) -> float:
    connections = [await asyncpg.connect(dsn) for _ in range(writers)]
    started = time.perf_counter()
    await asyncio.gather(*(load(c, key, table, count // writers, "insert") for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    return elapsed


async def run(dsn: str, count: int, repeats: int, append: int, writers: int) -> list[Result]:
    connection = await asyncpg.connect(dsn)
    await connection.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    version = connection.get_server_version()
    for statement in functions_ddl("postgresql", (version.major, version.minor)):
        await connection.execute(statement)
    results: list[Result] = []
    for method in ("copy", "insert"):
        for key in KEYS:
            result = Result(key.name, method)
            table = "bench_" + "".join(ch if ch.isalnum() else "_" for ch in key.name)
            for _ in range(repeats):
                await create(connection, key, table)
                await connection.execute("CHECKPOINT")
                start = await wal_lsn(connection)
                began = time.perf_counter()
                await load(connection, key, table, count, method)
                result.seconds.append(time.perf_counter() - began)
                result.figures["wal_mb"] = await wal_since(connection, start) / 2**20
            result.figures.update(await index_figures(connection, table))
            if method == "copy":
                result.figures.update(await steady_append(connection, key, table, append))
                scans = [await keyset_scan(connection, table, min(100_000, count)) for _ in range(3)]
                result.figures["scan_100k_ms"] = median(scans) * 1000
            results.append(result)
            print(f"  {method:<6} {key.name:<26} {median(result.seconds):7.2f} s", flush=True)
    for key in KEYS:
        result = Result(key.name, f"{writers} writers")
        table = "bench_concurrent"
        for _ in range(repeats):
            await create(connection, key, table)
            result.seconds.append(await concurrent_load(dsn, key, table, count, writers))
        result.figures.update(await index_figures(connection, table))
        results.append(result)
        print(f"  {writers} writers {key.name:<26} {median(result.seconds):7.2f} s", flush=True)
    await connection.close()
    return results


def report(results: list[Result]) -> str:
    by = {(r.key, r.method): r for r in results}
    lines = []
    for method in dict.fromkeys(r.method for r in results):
        lines.append(f"\n## {method}: median of {len(results[0].seconds)} loads; ratios against {BASELINE}")
        names = ["seconds", *by[(BASELINE, method)].figures]
        lines.append(f"{'key':<26} " + " ".join(f"{n:>24}" for n in names))
        base = by[(BASELINE, method)]
        for key in KEYS:
            r = by[(key.name, method)]
            values = {"seconds": median(r.seconds), **r.figures}
            bases = {"seconds": median(base.seconds), **base.figures}
            cells = [f"{values[n]:>12.2f} ({values[n] / bases[n] if bases[n] else float('nan'):5.2f}x)" for n in names]
            lines.append(f"{key.name:<26} " + " ".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r.method for r in results))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(methods)
    for offset, method in enumerate(methods):
        selected = [next(r for r in results if r.key == k.name and r.method == method) for k in KEYS]
        positions = [i + offset * width for i in range(len(KEYS))]
        axes[0].bar(positions, [r.figures["leaf_density_pct"] for r in selected], width, label=method)
        axes[1].bar(positions, [r.figures["pkey_mb"] for r in selected], width, label=method)
    for axis, title in zip(axes, ("primary key leaf density (%)", "primary key size (MB)"), strict=True):
        axis.set_title(title)
        axis.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(KEYS))])
        axis.set_xticklabels([k.name.replace(" (", "\n(") for k in KEYS], fontsize=8)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    arguments = parser.parse_args()
    count, repeats, append = (100_000, 3, 20_000) if arguments.quick else (1_000_000, 3, 100_000)
    title = f"Primary-key types on PostgreSQL, {count:,} rows"
    with provide_postgres(server_settings={"full_page_writes": "on"}) as server:
        print(header(title, server))
        dsn = server.url.set(drivername="postgresql").render_as_string(hide_password=False)
        results = asyncio.run(run(dsn, count, repeats, append, writers=4))
    print(report(results))
    from benchmarks.common import Measurement

    measurements = [Measurement(f"{r.method}: {r.key}", r.seconds, extra=r.figures) for r in results]
    path = save("keys", title, measurements, quick=arguments.quick, rows=count, cpus=os.cpu_count())
    picture = results_folder(quick=arguments.quick) / "keys.png"
    plot(results, picture)
    print(f"\nresults: {path.relative_to(ROOT)}, picture: {picture.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
