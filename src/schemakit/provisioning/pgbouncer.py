"""A real PgBouncer in front of a PostgreSQL server, for tests and benchmarks of the pooled path.

:class:`ThrowawayPgBouncer` writes a configuration into a temporary folder and starts the ``pgbouncer`` binary
(Debian's ``pgbouncer`` package) on a free port of the server's loopback address, in transaction mode by default,
forwarding every database name to the server. When the process runs as root it runs PgBouncer as the
``postgres`` user, which PgBouncer requires. It is stopped and removed when the context exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import URL

from schemakit.provisioning.servers import PostgresUnavailableError, free_port

__all__ = ["ThrowawayPgBouncer", "find_pgbouncer"]

_START_TIMEOUT_SECONDS = 10


def find_pgbouncer() -> Path | None:
    """The ``pgbouncer`` binary on ``PATH`` or in ``/usr/sbin``, or ``None``."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


class ThrowawayPgBouncer:
    """PgBouncer in front of ``server`` for the duration of a ``with`` block; :attr:`url` reaches it.

    Args:
        server: A URL of the PostgreSQL server (trust authentication, as the test servers have).
        pool_size: Server connections per database and user.
        mode: ``transaction`` (the default, and the hardest on clients) or ``session``.
    """

    def __init__(self, server: URL, *, pool_size: int = 20, mode: str = "transaction") -> None:
        self.server = server
        self.pool_size = pool_size
        self.mode = mode
        self.host = server.host or "127.0.0.1"
        self.port = free_port(self.host)
        self._folder = Path(tempfile.mkdtemp(prefix="schemakit-pgbouncer-"))
        self._process: subprocess.Popen[bytes] | None = None
        self.url = server.set(host=self.host, port=self.port)

    def __enter__(self) -> ThrowawayPgBouncer:
        binary = find_pgbouncer()
        if binary is None:
            raise PostgresUnavailableError("no pgbouncer binary (Debian: apt install pgbouncer)")
        config = self._folder / "pgbouncer.ini"
        user = self.server.username or "postgres"
        (self._folder / "users.txt").write_text(f'"{user}" ""\n')
        config.write_text(
            "[databases]\n"
            f"* = host={self.server.host or '127.0.0.1'} port={self.server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\nlisten_port = {self.port}\nunix_socket_dir = {self._folder}\n"
            f"auth_type = trust\nauth_file = {self._folder / 'users.txt'}\n"
            f"pool_mode = {self.mode}\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 1000\n"
            f"logfile = {self._folder / 'pgbouncer.log'}\npidfile = {self._folder / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits\n"
        )
        command = [str(binary), str(config)]
        if os.geteuid() == 0:
            shutil.chown(self._folder, "postgres")
            command = [str(binary), "-u", "postgres", str(config)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex((self.host, self.port)) == 0:
                    return self
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__()
        log = self._folder / "pgbouncer.log"
        raise PostgresUnavailableError(f"pgbouncer did not start: {log.read_text()[-1000:] if log.exists() else ''}")

    def __exit__(self, *_exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)
