"""A throwaway primary with a real streaming replica, for tests and benchmarks of read routing.

:class:`ThrowawayReplicatedCluster` starts a :class:`~schemakit.provisioning.servers.ThrowawayCluster` (the
primary), copies it with ``pg_basebackup --write-recovery-conf`` into a second temporary folder, and starts the
copy as a hot standby on another free port of the same loopback address, streaming from the primary. Both are
stopped and removed when the context exits. Replay on the replica can be paused to make lag on purpose
(:meth:`ThrowawayReplicatedCluster.pause_replay`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
from sqlalchemy import URL

from schemakit.provisioning.servers import PostgresUnavailableError, ThrowawayCluster, free_port

__all__ = ["ThrowawayReplicatedCluster"]

_CATCH_UP_TIMEOUT_SECONDS = 30


class ThrowawayReplicatedCluster(ThrowawayCluster):
    """A throwaway primary (:attr:`url`) and a streaming hot standby of it (:attr:`replica_url`).

    Args:
        binaries: The folder of ``initdb``, ``pg_ctl`` and ``pg_basebackup``.
        server_settings: Server settings over the defaults, for both servers.
    """

    def __init__(self, binaries: Path, server_settings: Mapping[str, str] | None = None) -> None:
        super().__init__(binaries, server_settings)
        self.replica_port = free_port(self.host)
        self.replica_data_dir = self._folder / "replica"
        self.replica_url = self.url.set(port=self.replica_port)

    def __enter__(self) -> ThrowawayReplicatedCluster:
        if not (self.binaries / "pg_basebackup").exists():
            raise PostgresUnavailableError(f"no pg_basebackup in {self.binaries} to make a replica with")
        super().__enter__()
        try:
            self._run(
                "pg_basebackup", "-h", self.host, "-p", str(self.port), "-U", "postgres",
                "-D", str(self.replica_data_dir), "--write-recovery-conf", "--wal-method=stream", "--no-sync",
            )  # fmt: skip
            self._start(
                self.replica_data_dir, self.replica_port, "replica.log", hot_standby="on", hot_standby_feedback="on"
            )
            self.wait_for_replica()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            if (self.replica_data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.replica_data_dir), "-m", "immediate", "-w", "stop")
        finally:
            super().__exit__()

    def wait_for_replica(self, timeout: float = _CATCH_UP_TIMEOUT_SECONDS) -> None:
        """Wait until the replica streams and has replayed everything the primary has written so far.

        Raises:
            PostgresUnavailableError: If it has not caught up within ``timeout`` seconds.
        """
        with _connect(self.url) as primary:
            target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        deadline = time.monotonic() + timeout
        with _connect(self.replica_url) as replica:
            while time.monotonic() < deadline:
                row = replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                    "EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')",
                    (target[0] if target else "0/0",),
                ).fetchone()
                if row and row[0] and row[1]:
                    return
                time.sleep(0.02)
        raise PostgresUnavailableError(f"the replica did not catch up with the primary within {timeout:g} s")

    def pause_replay(self) -> None:
        """Stop applying WAL on the replica (it keeps receiving it), so its lag grows from the next write."""
        with _connect(self.replica_url) as replica:
            replica.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        """Apply WAL on the replica again."""
        with _connect(self.replica_url) as replica:
            replica.execute("SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        """Stop the replica at once, as a crash would; the primary keeps running."""
        self._run("pg_ctl", "-D", str(self.replica_data_dir), "-m", "immediate", "-w", "stop")


def _connect(url: URL) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True, connect_timeout=5
    )
