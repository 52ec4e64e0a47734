"""Beyond one server: PgBouncer under load, and the Redis key audit of ``schemakit redis check``.

PgBouncer (Debian's 1.18, transaction mode, 20 server connections) in front of a throwaway cluster: 64 asyncpg
client tasks (quick: 64), each on its own client connection, each running 10,000 transactions (quick: 500) of one
``UPDATE``, through schemakit's PgBouncer mode; then the same load on direct connections. Reported: transactions,
errors (goal: 0) and the throughput ratio, pooled against direct.

100,000 keys (quick: 10,000) in Redis's database 15 on 127.0.0.1:6379 (emptied before and after): cached
values with their TTL, 1 % of them planted without a TTL, and 1 % planted under no registered kind. The audit
(``SCAN`` and pipelined ``TTL``) runs several times; the median is reported with what it found. Goal: every
planted key found, in under 2 s.

    python -m benchmarks.bench_scale [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import redis
from sqlalchemy import text

from benchmarks.common import Measurement, header, merge_into, postgres, results_folder, table
from schemakit import DatabaseSettings, make_async_engine
from schemakit.cache import KeyRegistry, check_redis
from schemakit.provisioning import PostgresDatabases
from schemakit.provisioning.pgbouncer import ThrowawayPgBouncer

CLIENTS = 64
URL = "redis://127.0.0.1:6379/15"


def plant(client: redis.Redis, keys: int) -> int:
    """The keys, 1 % without a TTL and 1 % of no kind; the number planted of each."""
    planted = keys // 100
    pipeline = client.pipeline(transaction=False)
    for number in range(keys - 2 * planted):
        pipeline.set(f"shop:product:{number}", "{}", ex=3600)
    for number in range(planted):
        pipeline.set(f"shop:product:forever-{number}", "{}")
        pipeline.set(f"legacy:thing:{number}", "x", ex=3600)
    pipeline.execute()
    return planted


async def _load(settings: DatabaseSettings, transactions: int) -> tuple[int, int, float]:
    """The transactions done, the errors, and the seconds taken by CLIENTS tasks."""
    engine = make_async_engine(settings)
    update = text("UPDATE counters SET n = n + 1 WHERE id = :id")

    async def client(number: int) -> tuple[int, int]:
        done = errors = 0
        async with engine.connect() as connection:
            for _ in range(transactions):
                try:
                    async with connection.begin():
                        await connection.execute(update, {"id": number})
                    done += 1
                except Exception:
                    errors += 1
        return done, errors

    started = time.perf_counter()
    results = await asyncio.gather(*(client(number) for number in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return sum(done for done, _ in results), sum(errors for _, errors in results), elapsed


def pgbouncer_load(transactions: int) -> dict[str, float]:
    with postgres() as server:
        databases = PostgresDatabases(server.url, "bench_scale_test")
        database = databases.create_empty("load")
        try:
            settings = database.settings
            engine_url = settings.sync_url
            with ThrowawayPgBouncer(engine_url, pool_size=20) as bouncer:
                pooled = DatabaseSettings.for_url(bouncer.url.render_as_string(hide_password=False))
                pooled = pooled.model_copy(update={"pgbouncer": True})
                setup = make_async_engine(settings)

                async def prepare() -> None:
                    async with setup.begin() as connection:
                        await connection.execute(text("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)"))
                        await connection.execute(
                            text("INSERT INTO counters SELECT i, 0 FROM generate_series(0, :last) AS i"),
                            {"last": CLIENTS - 1},
                        )
                    await setup.dispose()

                asyncio.run(prepare())
                done, errors, through = asyncio.run(_load(pooled, transactions))
                # Direct: a server connection for each client, as the pooled run has a client connection each.
                direct_settings = settings.model_copy(update={"pool_size": CLIENTS, "max_overflow": 0})
                direct_done, direct_errors, direct = asyncio.run(_load(direct_settings, transactions))
        finally:
            databases.drop(database)
    print(f"through PgBouncer: {done:,} transactions, {errors} errors, {done / through:,.0f} a second")
    print(
        f"direct:            {direct_done:,} transactions, {direct_errors} errors, {direct_done / direct:,.0f} a second"
    )
    return {
        "pgbouncer_transactions": done,
        "pgbouncer_errors": errors,
        "pgbouncer_tps": round(done / through),
        "direct_tps": round(direct_done / direct),
        "pgbouncer_vs_direct": round((done / through) / (direct_done / direct), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 keys")
    arguments = parser.parse_args()
    keys, rounds = (10_000, 3) if arguments.quick else (100_000, 5)
    transactions = 500 if arguments.quick else 10_000
    print(header(f"PgBouncer: {CLIENTS} clients x {transactions:,} transactions, 20 server connections"), flush=True)
    load = pgbouncer_load(transactions)
    registry = KeyRegistry()
    registry.cache("shop", "product")
    client = redis.Redis.from_url(URL)
    print(header(f"Auditing {keys:,} Redis keys"), flush=True)
    try:
        client.flushdb()
        planted = plant(client, keys)
        reports = [check_redis(URL, registry) for _ in range(rounds)]
    finally:
        client.flushdb()
        client.close()
    found = reports[-1]
    audit = Measurement(f"audit of {keys:,} keys (SCAN, pipelined TTL)", [r.audit_s or 0.0 for r in reports])
    print(table([audit], unit="ms", scale=1000.0))
    print(f"\nplanted {planted} keys without a TTL and {planted} of no kind; found {found.without_ttl_count} and "
          f"{found.rogue_count}")  # fmt: skip
    print("goal: every planted key found, in under 2 s")
    context = {
        "redis_keys": keys,
        "redis_keys_planted": 2 * planted,
        "redis_keys_found": found.without_ttl_count + found.rogue_count,
        "redis_audit_s": round(statistics.median(r.audit_s or 0.0 for r in reports), 3),
        **load,
    }
    # The other sections of scale.json (bench_partitions, bench_routing) are kept.
    path = merge_into("scale", results_folder(quick=arguments.quick) / "scale.json", context, [audit])
    print(f"results: {path}")


if __name__ == "__main__":
    main()
