"""Where a PostgreSQL server comes from: for a test suite, `schemakit check` and the benchmarks.

:func:`provide_postgres` returns a server in this order:

1. ``TEST_DATABASE_URL``, an existing server. The application's own ``DATABASE_URL`` is never used.
2. A throwaway cluster started from the local PostgreSQL server binaries (``initdb``, ``pg_ctl``, from the
   folder in ``SCHEMAKIT_POSTGRES_BIN``, else found on ``PATH`` or in the usual install folders) in a
   temporary folder, on a free port of 127.0.0.1, with ``fsync`` off. When the process runs as root, the
   server runs as the ``postgres`` user, since PostgreSQL refuses to run as root. It is stopped and removed
   when the context exits; clusters left behind by a process that died are removed the next time one starts.
3. With ``container=True``: a PostgreSQL container started with testcontainers (``schemakit[containers]``),
   where Docker runs.

If none is possible it raises :class:`PostgresUnavailableError` with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL
from sqlalchemy.engine import make_url

from schemakit.errors import SchemakitError

__all__ = [
    "BINARIES_VARIABLE",
    "SERVER_USER",
    "TEST_DATABASE_URL_VARIABLE",
    "PostgresServer",
    "PostgresUnavailableError",
    "ThrowawayCluster",
    "find_server_binaries",
    "free_port",
    "provide_postgres",
    "server_from_variable",
    "sweep_stale_clusters",
]

#: The environment variable naming an existing server for tests.
TEST_DATABASE_URL_VARIABLE = "TEST_DATABASE_URL"
#: The environment variable naming the folder of the PostgreSQL server binaries to use.
BINARIES_VARIABLE = "SCHEMAKIT_POSTGRES_BIN"

#: The user a throwaway server runs as when the process is root (PostgreSQL refuses to run as root).
SERVER_USER = "postgres"
_BINARY_FOLDERS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
_START_TIMEOUT_SECONDS = 60
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_CLUSTER_PREFIX = "schemakit-pg-"
_OWNER_FILE = "owner.pid"
_CONTAINER_IMAGE = "postgres:17-alpine"


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

    ``SCHEMAKIT_POSTGRES_BIN`` wins (to pick one of several installed versions); then ``PATH``; then the newest
    version in the usual install folders.

    Raises:
        PostgresUnavailableError: If ``SCHEMAKIT_POSTGRES_BIN`` names a folder without the binaries.
    """
    chosen = os.environ.get(BINARIES_VARIABLE)
    if chosen:
        folder = Path(chosen)
        if not ((folder / "pg_ctl").exists() and (folder / "initdb").exists()):
            raise PostgresUnavailableError(f"{BINARIES_VARIABLE} is {folder}, which holds no initdb and pg_ctl")
        return folder
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = [Path(folder) for pattern in _BINARY_FOLDERS for folder in glob.glob(pattern)]
    usable = [folder for folder in candidates if (folder / "pg_ctl").exists() and (folder / "initdb").exists()]
    return max(usable, key=_version_key, default=None)


def _version_key(folder: Path) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() else " " for ch in str(folder))
    return tuple(int(part) for part in digits.split())


def free_port(host: str) -> int:
    """A TCP port nothing listens on at ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, for one test run.

    Use it as a context manager; :attr:`url` is valid inside the block.

    Args:
        binaries: The folder of ``initdb`` and ``pg_ctl``.
        server_settings: Server settings over the defaults (``fsync``, ``synchronous_commit`` and
            ``full_page_writes`` off, for speed); a benchmark of WAL volume sets ``full_page_writes`` on.
        host: The loopback address it listens on; another than ``127.0.0.1`` (``127.0.0.2``) stands for a
            remote server in tests.
    """

    def __init__(
        self, binaries: Path, server_settings: Mapping[str, str] | None = None, *, host: str = "127.0.0.1"
    ) -> None:
        self.binaries = binaries
        self.host = host
        self.server_settings = {**_FAST_SETTINGS, **(server_settings or {})}
        self.port = free_port(host)
        self._folder = Path(tempfile.mkdtemp(prefix=_CLUSTER_PREFIX))
        self.data_dir = self._folder / "data"
        self._run_as: str | None = None
        self.url = URL.create(
            "postgresql+psycopg", username=SERVER_USER, host=host, port=self.port, database="postgres"
        )

    def __enter__(self) -> ThrowawayCluster:
        sweep_stale_clusters(self.binaries)
        (self._folder / _OWNER_FILE).write_text(str(os.getpid()))
        try:
            self._prepare_owner()
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            self._start(self.data_dir, self.port, "server.log")
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            self._remove()

    def _start(self, data_dir: Path, port: int, log: str, **extra_settings: str) -> None:
        """Start the server of ``data_dir`` on ``port`` with the cluster's settings (and ``extra_settings``)."""
        settings = {**self.server_settings, **extra_settings}
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        self._run(
            "pg_ctl", "-D", str(data_dir), "-l", str(self._folder / log), "-w", "-t", str(_START_TIMEOUT_SECONDS),
            "-o", f"-p {port} -k {self._folder} -c listen_addresses={self.host} {options}", "start",
        )  # fmt: skip

    def _prepare_owner(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PostgresUnavailableError(
                f"running as root, and there is no {SERVER_USER!r} user to run the throwaway server as"
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailableError("running as root, and 'runuser' is missing to start the server")
        os.chown(self._folder, account.pw_uid, account.pw_gid)
        self._run_as = SERVER_USER

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_clusters(binaries: Path) -> list[Path]:
    """Stop and remove throwaway clusters whose owning process is gone (a crashed or killed test run).

    Returns:
        The folders removed.
    """
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{_CLUSTER_PREFIX}*"):
        owner = folder / _OWNER_FILE
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        data = folder / "data"
        if (data / "postmaster.pid").exists():
            command = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            if os.geteuid() == 0 and shutil.which("runuser"):
                command = ["runuser", "-u", SERVER_USER, "--", *command]
            subprocess.run(command, capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@contextmanager
def _container() -> Iterator[PostgresServer]:
    try:
        from testcontainers.postgres import PostgresContainer  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise PostgresUnavailableError(
            "a container was asked for, but testcontainers is not installed: pip install schemakit[containers]"
        ) from None
    try:
        container = PostgresContainer(_CONTAINER_IMAGE, driver="psycopg").start()
    except Exception as exc:
        raise PostgresUnavailableError(f"could not start a PostgreSQL container (is Docker running?): {exc}") from exc
    try:
        url = make_url(container.get_connection_url())
        yield PostgresServer(url, f"container {_CONTAINER_IMAGE} ({url.render_as_string(hide_password=True)})")
    finally:
        container.stop()


def server_from_variable(variable: str) -> PostgresServer | None:
    """The existing server an environment variable names (``TEST_DATABASE_URL``, say), or ``None`` if unset.

    Raises:
        PostgresUnavailableError: If the variable holds another than a ``postgresql://`` URL.
    """
    configured = os.environ.get(variable)
    if not configured:
        return None
    url = make_url(configured)
    if url.get_backend_name() != "postgresql":
        raise PostgresUnavailableError(f"{variable} must be a postgresql:// URL")
    url = url.set(drivername="postgresql+psycopg")
    return PostgresServer(url, f"{variable} ({url.render_as_string(hide_password=True)})")


@contextmanager
def provide_postgres(
    *, container: bool = False, server_settings: Mapping[str, str] | None = None
) -> Iterator[PostgresServer]:
    """Provide a PostgreSQL server for the duration of the block.

    Args:
        container: Start a testcontainers container instead of a throwaway cluster.
        server_settings: Settings for a throwaway cluster (see :class:`ThrowawayCluster`).

    Yields:
        The server, from ``TEST_DATABASE_URL``, a throwaway cluster or a container.

    Raises:
        PostgresUnavailableError: If ``TEST_DATABASE_URL`` is unset and no server can be started.
    """
    configured = server_from_variable(TEST_DATABASE_URL_VARIABLE)
    if configured is not None:
        yield configured
        return
    if container:
        with _container() as server:
            yield server
        return
    binaries = find_server_binaries()
    if binaries is None:
        raise PostgresUnavailableError(
            f"{TEST_DATABASE_URL_VARIABLE} is not set and no PostgreSQL server binaries (initdb, pg_ctl) "
            "were found on PATH or in the usual install folders"
        )
    with ThrowawayCluster(binaries, server_settings) as cluster:
        yield PostgresServer(
            cluster.url, f"throwaway cluster from {binaries} on 127.0.0.1:{cluster.port} (removed at exit)"
        )
