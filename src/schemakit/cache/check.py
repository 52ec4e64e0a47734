"""``schemakit redis check``: is Redis answering, and do its keys follow the registry?

:func:`check_redis` pings the server with a short timeout (:data:`TIMEOUT_S`, so a server that is down or hung
is reported within it, never waited on) and, when it answers, audits its keys with ``SCAN`` (never ``KEYS``,
which blocks the server): keys that belong to no registered kind, and keys without a TTL whose kind should
expire. TTLs are read in pipelined batches, so 100,000 keys take a few hundred round trips, not 100,000.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from schemakit.cache.client import cache_client
from schemakit.cache.keys import KeyRegistry

__all__ = ["SHOWN", "TIMEOUT_S", "RedisReport", "check_redis"]

#: Seconds a ping or an audit command may take before the server counts as down.
TIMEOUT_S = 0.3
#: How many keys of each finding the report lists (all are counted).
SHOWN = 20
_BATCH = 1000


@dataclass
class RedisReport:
    """What the check found: whether Redis answered, and the keys that break the registry's rules."""

    url: str
    reachable: bool
    latency_ms: float | None = None
    error: str | None = None
    keys: int = 0
    rogue: list[str] = field(default_factory=list)
    rogue_count: int = 0
    without_ttl: list[str] = field(default_factory=list)
    without_ttl_count: int = 0
    audit_s: float | None = None

    @property
    def passed(self) -> bool:
        """Whether Redis answered and every key has a kind and, where its kind expires, a TTL."""
        return self.reachable and not self.rogue_count and not self.without_ttl_count

    def text(self) -> str:
        """A readable report."""
        if not self.reachable:
            return f"Redis at {self.url} is not answering: {self.error}"
        lines = [f"Redis at {self.url} answered in {self.latency_ms:.1f} ms; {self.keys:,} keys audited"]
        for label, shown, count in (
            ("keys of no registered kind", self.rogue, self.rogue_count),
            ("keys without a TTL", self.without_ttl, self.without_ttl_count),
        ):
            listed = f": {', '.join(shown)}{', ...' if count > len(shown) else ''}" if count else ""
            lines.append(f"{count:,} {label}{listed}")
        return "\n".join(lines)

    def json(self) -> str:
        """The report as JSON."""
        return json.dumps({**asdict(self), "passed": self.passed}, indent=2)


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.rsplit("@", 1)[-1]


def check_redis(url: str, registry: KeyRegistry | None = None, *, timeout: float = TIMEOUT_S) -> RedisReport:
    """Ping Redis at ``url`` and audit its keys against ``registry`` (every key is rogue without one)."""
    import redis  # noqa: PLC0415 - an optional dependency (schemakit[cache])

    report = RedisReport(_masked(url), reachable=False)
    client = cache_client(url, timeout=timeout)
    try:
        started = time.perf_counter()
        client.ping()
        report.latency_ms = (time.perf_counter() - started) * 1000
        report.reachable = True
        _audit(client, registry or KeyRegistry(), report)
    except redis.RedisError as exc:
        report.error = str(exc) or type(exc).__name__
    finally:
        client.close()
    return report


def _audit(client: Any, registry: KeyRegistry, report: RedisReport) -> None:
    started = time.perf_counter()
    batch: list[bytes] = []
    for key in client.scan_iter(count=_BATCH):
        batch.append(key)
        if len(batch) == _BATCH:
            _judge(client, registry, batch, report)
            batch = []
    if batch:
        _judge(client, registry, batch, report)
    report.audit_s = time.perf_counter() - started


def _judge(client: Any, registry: KeyRegistry, keys: list[bytes], report: RedisReport) -> None:
    pipeline = client.pipeline(transaction=False)
    for raw in keys:
        pipeline.ttl(raw)
    for raw, ttl in zip(keys, pipeline.execute(), strict=True):
        key = raw.decode(errors="replace")
        report.keys += 1
        kind = registry.kind_of(key)
        if kind is None:
            report.rogue_count += 1
            if len(report.rogue) < SHOWN:
                report.rogue.append(key)
        # -1: the key exists and never expires (a key of no kind should not live forever either).
        if ttl == -1 and (kind is None or kind.ttl is not None):
            report.without_ttl_count += 1
            if len(report.without_ttl) < SHOWN:
                report.without_ttl.append(key)
