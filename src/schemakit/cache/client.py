"""A Redis client fit for a cache: short timeouts, and no retries that would hold a read for seconds."""

from __future__ import annotations

from typing import Any

__all__ = ["cache_client"]


def cache_client(url: str, *, timeout: float = 0.1) -> Any:
    """A redis-py client for ``url`` that gives up after ``timeout`` seconds and does not retry.

    redis-py's own default retries a refused connection with backoff for about five seconds: right for a queue,
    wrong for a cache, where the database answers instead (:class:`~schemakit.cache.models.ModelCache` falls
    back to it).
    """
    import redis  # noqa: PLC0415 - an optional dependency (schemakit[cache])
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
