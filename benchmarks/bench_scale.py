"""Beyond one server: the Redis key audit of ``schemakit redis check`` over 100,000 keys.

100,000 keys (quick: 10,000) in Redis's database 15 on 127.0.0.1:6379 (emptied before and after): cached
values with their TTL, 1 % of them planted without a TTL, and 1 % planted under no registered kind. The audit
(``SCAN`` and pipelined ``TTL``) runs several times; the median is reported with what it found. Goal: every
planted key found, in under 2 s.

    python -m benchmarks.bench_scale [--quick]
"""

from __future__ import annotations

import argparse
import statistics

import redis

from benchmarks.common import Measurement, header, save, table
from schemakit.cache import KeyRegistry, check_redis

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 keys")
    arguments = parser.parse_args()
    keys, rounds = (10_000, 3) if arguments.quick else (100_000, 5)
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
    path = save(
        "scale",
        "Beyond one server",
        [audit],
        quick=arguments.quick,
        redis_keys=keys,
        redis_keys_planted=2 * planted,
        redis_keys_found=found.without_ttl_count + found.rogue_count,
        redis_audit_s=round(statistics.median(r.audit_s or 0.0 for r in reports), 3),
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
