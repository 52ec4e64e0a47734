"""How far behind its primary a replica is, read on the replica, and remembered for a moment.

A replica that has replayed all the WAL it received is 0 s behind, however long ago the primary last wrote.
One that is still replaying is as far behind as the time since the last transaction it replayed committed.
One that is not streaming (its primary unreachable, replication broken) counts the same way, so a replica that
stopped receiving grows stale rather than passing for current. A server that is not in recovery (a primary
named as a replica, as in development) is 0 s behind.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schemakit.errors import database_error_reason

__all__ = ["LAG_QUERY", "ReplicaState", "read_lag"]

log = logging.getLogger(__name__)

#: The replica's lag in seconds (``NULL`` when it has replayed nothing yet: treated as unknown, so too far).
LAG_QUERY = text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
             AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
        ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
    END
    """
)


def read_lag(engine: Engine) -> float:
    """The replica's lag in seconds; ``inf`` when it cannot tell.

    Raises:
        sqlalchemy.exc.DBAPIError: If the replica cannot be reached (or ``OSError``, as asyncpg raises it).
    """
    with engine.connect() as connection:
        lag = connection.scalar(LAG_QUERY)
    return math.inf if lag is None else float(lag)


@dataclass
class ReplicaState:
    """One replica's engine and its last lag reading, read again once it is ``check_interval_s`` old.

    Attributes:
        engine: The replica's (sync) engine.
        check_interval_s: How long a reading is used before the replica is asked again.
    """

    engine: Engine
    check_interval_s: float = 1.0
    lag_s: float = math.inf
    checked_at: float = -math.inf
    reachable: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def current_lag(self) -> float:
        """The replica's lag in seconds (``inf`` when unreachable), asking the replica when the reading is old."""
        if time.monotonic() - self.checked_at < self.check_interval_s:
            return self.lag_s
        # Whoever is already asking the replica answers for everyone: the others use the last reading rather than
        # wait, which under asyncio (one thread, the check running in a greenlet) would block the event loop
        # that the check itself needs.
        if not self._lock.acquire(blocking=False):
            return self.lag_s
        try:
            self._refresh()
        finally:
            self._lock.release()
        return self.lag_s

    def _refresh(self) -> None:
        try:
            self.lag_s = read_lag(self.engine)
        except (DBAPIError, OSError) as exc:
            # asyncpg raises a refused connection as the OSError itself, not wrapped as a DBAPIError.
            if self.reachable:
                reason = database_error_reason(exc) if isinstance(exc, DBAPIError) else str(exc)
                log.warning(
                    "read replica %s is unreachable (%s); its reads go elsewhere until it answers",
                    self.engine.url.render_as_string(hide_password=True),
                    reason,
                )
            self.reachable = False
            self.lag_s = math.inf
        else:
            if not self.reachable:
                log.warning("read replica %s answers again", self.engine.url.render_as_string(hide_password=True))
            self.reachable = True
        self.checked_at = time.monotonic()
