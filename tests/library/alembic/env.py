"""The library tests' migration environment: the same one call as any project's."""

from tests.library.models import LibraryBase

from schemakit.migrations import run_migrations

run_migrations(LibraryBase.metadata)
