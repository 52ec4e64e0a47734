"""Real databases for jobs that need one: a PostgreSQL server, and throwaway databases on it or on SQLite.

The test kit (:mod:`schemakit.testing`) and ``schemakit check`` both get their databases here:

* :func:`provide_postgres`: ``TEST_DATABASE_URL``, else a throwaway cluster from the local server binaries,
  else (on request) a container (:mod:`~schemakit.provisioning.servers`);
* :class:`PostgresDatabases` and :func:`throwaway_database`: databases that carry ``_test`` in their name,
  created and dropped under :func:`check_disposable` (:mod:`~schemakit.provisioning.databases`).
"""

from schemakit.provisioning.databases import (
    DisposableDatabaseError,
    PostgresDatabases,
    ThrowawayDatabase,
    check_disposable,
    disposable_base,
    safe_name,
    throwaway_database,
)
from schemakit.provisioning.servers import (
    BINARIES_VARIABLE,
    TEST_DATABASE_URL_VARIABLE,
    PostgresServer,
    PostgresUnavailableError,
    ThrowawayCluster,
    find_server_binaries,
    provide_postgres,
    server_from_variable,
    sweep_stale_clusters,
)

__all__ = [
    "BINARIES_VARIABLE",
    "TEST_DATABASE_URL_VARIABLE",
    "DisposableDatabaseError",
    "PostgresDatabases",
    "PostgresServer",
    "PostgresUnavailableError",
    "ThrowawayCluster",
    "ThrowawayDatabase",
    "check_disposable",
    "disposable_base",
    "find_server_binaries",
    "provide_postgres",
    "safe_name",
    "server_from_variable",
    "sweep_stale_clusters",
    "throwaway_database",
]
