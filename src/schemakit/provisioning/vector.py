"""A PostgreSQL server with pgvector, for the tests and the benchmark of vector search.

:func:`provide_vector_postgres` returns, in this order:

1. ``TEST_VECTOR_DATABASE_URL``, an existing server where ``CREATE EXTENSION vector`` works.
2. A throwaway cluster (:class:`~schemakit.provisioning.servers.ThrowawayCluster`) from server binaries that
   have pgvector: the folder in ``SCHEMAKIT_VECTOR_POSTGRES_BIN``; else those of the ``pgserver`` package
   (PostgreSQL 16 with pgvector, ``pip install pgserver``); else the local binaries, if their extension folder
   holds pgvector (Debian: ``postgresql-<version>-pgvector``).

If none is possible it raises :class:`~schemakit.provisioning.servers.PostgresUnavailableError` with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from schemakit.provisioning.servers import (
    PostgresServer,
    PostgresUnavailableError,
    ThrowawayCluster,
    find_server_binaries,
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
            return bundled
    local = find_server_binaries()
    return local if local is not None and _has_pgvector(local) else None


@contextmanager
def provide_vector_postgres() -> Iterator[PostgresServer]:
    """Provide a PostgreSQL server with pgvector for the duration of the block.

    Raises:
        PostgresUnavailableError: If ``TEST_VECTOR_DATABASE_URL`` is unset and no such server can be started.
    """
    configured = os.environ.get(TEST_VECTOR_DATABASE_URL_VARIABLE)
    if configured:
        url = make_url(configured).set(drivername="postgresql+psycopg")
        masked = url.render_as_string(hide_password=True)
        yield PostgresServer(url, f"{TEST_VECTOR_DATABASE_URL_VARIABLE} ({masked})")
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
