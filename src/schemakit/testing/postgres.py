"""Where a test suite's PostgreSQL comes from.

:func:`provide_postgres` returns a server in this order:

1. ``TEST_DATABASE_URL``, an existing server. The application's own ``DATABASE_URL`` is never used.
2. A throwaway cluster started from the local PostgreSQL server binaries (``initdb``, ``pg_ctl``, found on
   ``PATH`` or in the usual install folders) in a temporary folder, on a free port of 127.0.0.1, with
   ``fsync`` off. When the process runs as root, the server runs as the ``postgres`` user, since PostgreSQL
   refuses to run as root. It is stopped and removed when the context exits.

If neither is possible it raises :class:`PostgresUnavailableError` with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL
from sqlalchemy.engine import make_url

from schemakit.errors import SchemakitError

__all__ = [
    "TEST_DATABASE_URL_VARIABLE",
    "PostgresServer",
    "PostgresUnavailableError",
    "ThrowawayCluster",
    "find_server_binaries",
    "provide_postgres",
]

#: The environment variable naming an existing server for tests.
TEST_DATABASE_URL_VARIABLE = "TEST_DATABASE_URL"

_SERVER_USER = "postgres"
_BINARY_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
_START_TIMEOUT_SECONDS = 60


class PostgresUnavailableError(SchemakitError):
    """No PostgreSQL server could be provided; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server that tests may use.

    Attributes:
        url: A URL for its maintenance database, from which test databases are created.
        source: How it was obtained, for humans (password masked).
    """

    url: URL
    source: str


def find_server_binaries() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, or ``None`` if they are not installed.

    ``PATH`` wins; otherwise the newest version in the usual install folders.
    """
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = [Path(folder) for pattern in _BINARY_FOLDERS for folder in glob.glob(pattern)]
    usable = [folder for folder in candidates if (folder / "pg_ctl").exists() and (folder / "initdb").exists()]
    return max(usable, key=_version_key, default=None)


def _version_key(folder: Path) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() else " " for ch in str(folder))
    return tuple(int(part) for part in digits.split())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, for one test run.

    Use it as a context manager; :attr:`url` is valid inside the block.
    """

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = _free_port()
        self._folder = Path(tempfile.mkdtemp(prefix="schemakit-pg-"))
        self.data_dir = self._folder / "data"
        self._run_as: str | None = None
        self.url = URL.create(
            "postgresql+psycopg", username=_SERVER_USER, host="127.0.0.1", port=self.port, database="postgres"
        )

    def __enter__(self) -> ThrowawayCluster:
        try:
            self._prepare_owner()
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", _SERVER_USER, "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            options = (
                f"-F -p {self.port} -k {self._folder} -c listen_addresses=127.0.0.1 "
                "-c full_page_writes=off -c synchronous_commit=off"
            )
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self._folder / "server.log"),
                "-w", "-t", str(_START_TIMEOUT_SECONDS), "-o", options, "start",
            )  # fmt: skip
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            self._remove()

    def _prepare_owner(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            account = pwd.getpwnam(_SERVER_USER)
        except KeyError:
            raise PostgresUnavailableError(
                f"running as root, and there is no {_SERVER_USER!r} user to run the throwaway server as"
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailableError("running as root, and 'runuser' is missing to start the server")
        os.chown(self._folder, account.pw_uid, account.pw_gid)
        self._run_as = _SERVER_USER

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.binaries / program), *args]
        if self._run_as:
            command = ["runuser", "-u", self._run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self._folder)
        if result.returncode != 0:
            log = self._folder / "server.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailableError(
                f"{program} failed with exit code {result.returncode}:\n{result.stderr.strip()}\n{detail}"
            )

    def _remove(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


@contextmanager
def provide_postgres() -> Iterator[PostgresServer]:
    """Provide a PostgreSQL server for the duration of the block.

    Yields:
        The server, from ``TEST_DATABASE_URL`` or a throwaway cluster.

    Raises:
        PostgresUnavailableError: If ``TEST_DATABASE_URL`` is unset and no cluster can be started.
    """
    configured = os.environ.get(TEST_DATABASE_URL_VARIABLE)
    if configured:
        url = make_url(configured)
        if url.get_backend_name() != "postgresql":
            raise PostgresUnavailableError(f"{TEST_DATABASE_URL_VARIABLE} must be a postgresql:// URL")
        url = url.set(drivername="postgresql+psycopg")
        yield PostgresServer(url, f"{TEST_DATABASE_URL_VARIABLE} ({url.render_as_string(hide_password=True)})")
        return
    binaries = find_server_binaries()
    if binaries is None:
        raise PostgresUnavailableError(
            f"{TEST_DATABASE_URL_VARIABLE} is not set and no PostgreSQL server binaries (initdb, pg_ctl) "
            "were found on PATH or in the usual install folders"
        )
    with ThrowawayCluster(binaries) as cluster:
        yield PostgresServer(
            cluster.url, f"throwaway cluster from {binaries} on 127.0.0.1:{cluster.port} (removed at exit)"
        )
