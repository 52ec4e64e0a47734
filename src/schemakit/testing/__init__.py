"""Test support: migrated template databases and a pytest plugin, on the servers :mod:`schemakit.provisioning` gives.

The server helpers are re-exported here for test code.

The plugin lives in :mod:`schemakit.testing.plugin` and is enabled with
``pytest_plugins = ["schemakit.testing.plugin"]``; it is not imported here, so importing this package does not
register it.
"""

from schemakit.provisioning import (
    BINARIES_VARIABLE,
    TEST_DATABASE_URL_VARIABLE,
    PostgresServer,
    PostgresUnavailableError,
    ThrowawayCluster,
    find_server_binaries,
    provide_postgres,
    sweep_stale_clusters,
)
from schemakit.testing.databases import (
    PostgresTestDatabases,
    SqliteTestDatabases,
    TestDatabase,
    TestDatabaseError,
    check_disposable,
    migrate,
    migrations_fingerprint,
)

__all__ = [
    "BINARIES_VARIABLE",
    "TEST_DATABASE_URL_VARIABLE",
    "PostgresServer",
    "PostgresTestDatabases",
    "PostgresUnavailableError",
    "SqliteTestDatabases",
    "TestDatabase",
    "TestDatabaseError",
    "ThrowawayCluster",
    "check_disposable",
    "find_server_binaries",
    "migrate",
    "migrations_fingerprint",
    "provide_postgres",
    "sweep_stale_clusters",
]
