"""Which server a read goes to: :class:`ReadRouter`, shared by the sessions of one routing factory."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from schemakit.replicas.lag import ReplicaState

__all__ = ["ReadRouter"]


def _sync(engine: Engine | AsyncEngine) -> Engine:
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


class ReadRouter:
    """The primary, the replicas and the rules that pick between them for a read.

    A read goes to a replica at most ``max_lag_s`` behind, taking the replicas in turn; to the primary when none
    is, and for ``read_your_writes_s`` after a transaction of the same router committed a write. For that window
    to hide every stale read, make it longer than ``max_lag_s`` plus ``check_interval_s``.

    Args:
        primary: The primary's engine (sync, or async for async sessions).
        replicas: The replicas' engines, of the same kind.
        max_lag_s: The most a replica may lag behind and still serve reads.
        read_your_writes_s: How long after a committed write reads stay on the primary.
        check_interval_s: How long a replica's lag reading is used before the replica is asked again.
    """

    def __init__(
        self,
        primary: Engine | AsyncEngine,
        replicas: Sequence[Engine | AsyncEngine] = (),
        *,
        max_lag_s: float = 2.0,
        read_your_writes_s: float = 3.0,
        check_interval_s: float = 1.0,
    ) -> None:
        self.primary = _sync(primary)
        self.replicas = [ReplicaState(_sync(replica), check_interval_s) for replica in replicas]
        self.max_lag_s = max_lag_s
        self.read_your_writes_s = read_your_writes_s
        self._last_write = -math.inf
        self._turn = itertools.count()

    def record_write(self) -> None:
        """Note that a transaction committed a write now: reads stay on the primary for a while."""
        self._last_write = time.monotonic()

    def read_engine(self) -> Engine:
        """The engine for a transaction's reads: a current replica, or the primary."""
        if not self.replicas or time.monotonic() - self._last_write < self.read_your_writes_s:
            return self.primary
        start = next(self._turn)
        for offset in range(len(self.replicas)):
            replica = self.replicas[(start + offset) % len(self.replicas)]
            if replica.current_lag() <= self.max_lag_s:
                return replica.engine
        return self.primary
