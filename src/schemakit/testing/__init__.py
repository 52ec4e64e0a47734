"""Test support: a real PostgreSQL for test suites, from ``TEST_DATABASE_URL`` or a throwaway cluster."""

from schemakit.testing.postgres import (
    TEST_DATABASE_URL_VARIABLE,
    PostgresServer,
    PostgresUnavailableError,
    ThrowawayCluster,
    find_server_binaries,
    provide_postgres,
)

__all__ = [
    "TEST_DATABASE_URL_VARIABLE",
    "PostgresServer",
    "PostgresUnavailableError",
    "ThrowawayCluster",
    "find_server_binaries",
    "provide_postgres",
]
