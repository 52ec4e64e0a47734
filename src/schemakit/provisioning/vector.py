"""A PostgreSQL server with pgvector, for the tests and the benchmark of vector search.

:func:`provide_vector_postgres` returns, in this order:

1. ``TEST_VECTOR_DATABASE_URL``, an existing server where ``CREATE EXTENSION vector`` works.
2. A throwaway cluster (:class:`~schemakit.provisioning.servers.ThrowawayCluster`) from server binaries that
   have pgvector: the folder in ``SCHEMAKIT_VECTOR_POSTGRES_BIN``; else those of the ``pgserver`` package
   (PostgreSQL 16 with pgvector, ``pip install pgserver``; copied where the ``postgres`` user can run them when
   the process is root and they sit in a private folder); else the local binaries, if their extension folder
   holds pgvector (Debian: ``postgresql-<version>-pgvector``).

If none is possible it raises :class:`~schemakit.provisioning.servers.PostgresUnavailableError` with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemakit.provisioning.servers import (
    SERVER_USER,
    PostgresServer,
    PostgresUnavailableError,
    ThrowawayCluster,
    find_server_binaries,
    server_from_variable,
)

__all__ = [
    "TEST_VECTOR_DATABASE_URL_VARIABLE",
    "VECTOR_BINARIES_VARIABLE",
    "provide_vector_postgres",
    "vector_server_binaries",
]

#: The environment variable naming an existing server with pgvector, for tests.
TEST_VECTOR_DATABASE_URL_VARIABLE = "TEST_VECTOR_DATABASE_URL"
#: The environment variable naming the folder of server binaries that have pgvector.
VECTOR_BINARIES_VARIABLE = "SCHEMAKIT_VECTOR_POSTGRES_BIN"


def _has_pgvector(binaries: Path) -> bool:
    config = binaries / "pg_config"
    if not config.exists():
        return False
    result = subprocess.run([str(config), "--sharedir"], capture_output=True, text=True, check=False)
    return result.returncode == 0 and (Path(result.stdout.strip()) / "extension" / "vector.control").exists()


def _server_user_can_run(binaries: Path) -> bool:
    """Whether the user the server runs as can run these binaries (as root, that user is ``postgres``)."""
    if os.geteuid() != 0:
        return True
    check = ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(binaries / "initdb")]
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def _copy_for_server_user(install: Path) -> Path:
    """Pgserver's install tree, copied where the ``postgres`` user can reach it; its ``bin`` folder.

    A virtual environment inside a private folder (a home, a ``mktemp -d`` checkout) is out of that user's reach.
    The binaries find their libraries in the wheel's ``pgserver.libs`` folder by a relative path, so both are
    copied, in the same layout. The copy is kept in the temporary folder for later runs, one per installed
    server (its path and build time).
    """
    package = install.parent
    stamp = f"{install}:{(install / 'bin' / 'postgres').stat().st_mtime_ns}"
    target = Path(tempfile.gettempdir()) / f"schemakit-pgserver-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
    if not (target / package.name / install.name / "bin" / "initdb").exists():
        staging = Path(tempfile.mkdtemp(prefix="schemakit-pgserver-copy-"))
        try:
            root = staging / "root"
            shutil.copytree(install, root / package.name / install.name, symlinks=True)
            libraries = package.parent / f"{package.name}.libs"
            if libraries.is_dir():
                shutil.copytree(libraries, root / libraries.name, symlinks=True)
            root.chmod(0o755)
            # One rename, so concurrent test workers never see half a copy; the loser's copy is thrown away.
            with contextlib.suppress(OSError):
                root.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / package.name / install.name / "bin"


def vector_server_binaries() -> Path | None:
    """The folder of server binaries with pgvector, or ``None`` (see the module's order).

    Raises:
        PostgresUnavailableError: If ``SCHEMAKIT_VECTOR_POSTGRES_BIN`` names a folder without pgvector.
    """
    chosen = os.environ.get(VECTOR_BINARIES_VARIABLE)
    if chosen:
        if not _has_pgvector(Path(chosen)):
            raise PostgresUnavailableError(f"{VECTOR_BINARIES_VARIABLE} is {chosen}, whose server has no pgvector")
        return Path(chosen)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin"
        if _has_pgvector(bundled):
            return bundled if _server_user_can_run(bundled) else _copy_for_server_user(bundled.parent)
    local = find_server_binaries()
    return local if local is not None and _has_pgvector(local) else None


@contextmanager
def provide_vector_postgres() -> Iterator[PostgresServer]:
    """Provide a PostgreSQL server with pgvector for the duration of the block.

    Raises:
        PostgresUnavailableError: If ``TEST_VECTOR_DATABASE_URL`` is unset and no such server can be started, or
            holds another than a ``postgresql://`` URL.
    """
    configured = server_from_variable(TEST_VECTOR_DATABASE_URL_VARIABLE)
    if configured is not None:
        yield configured
        return
    binaries = vector_server_binaries()
    if binaries is None:
        raise PostgresUnavailableError(
            f"{TEST_VECTOR_DATABASE_URL_VARIABLE} is not set and no PostgreSQL server binaries with pgvector were "
            f"found: pip install pgserver (PostgreSQL 16 with pgvector), or set {VECTOR_BINARIES_VARIABLE}"
        )
    with ThrowawayCluster(binaries) as cluster:
        yield PostgresServer(
            cluster.url,
            f"throwaway cluster with pgvector from {binaries} on 127.0.0.1:{cluster.port} (removed at exit)",
        )
