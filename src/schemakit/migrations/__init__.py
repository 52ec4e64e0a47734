"""Alembic integration: the one call a project's ``env.py`` makes, operations, gates and commands.

A project's ``alembic/env.py``::

    import example_app.models  # registers the tables on Base.metadata
    from schemakit import Base
    from schemakit.migrations import run_migrations

    run_migrations(Base.metadata)

Importing this package registers schemakit's migration operations (``op.create_schemakit_functions()``,
``op.create_updated_at_trigger(...)`` and their reverses) and its autogenerate hooks.
"""

from schemakit.migrations.checksums import CHECKSUM_TABLE, ChecksumLedger, EditedMigrationError, file_checksum
from schemakit.migrations.commands import downgrade, downgrade_async, make_config, upgrade, upgrade_async
from schemakit.migrations.environment import run_migrations
from schemakit.migrations.locking import MigrationLockTimeoutError, migration_lock
from schemakit.migrations.operations import (
    CreateAuditTriggerOp,
    CreateSchemakitFunctionsOp,
    CreateUpdatedAtTriggerOp,
    DropAuditTriggerOp,
    DropSchemakitFunctionsOp,
    DropUpdatedAtTriggerOp,
)
from schemakit.migrations.options import MigrationOptions, migration_options, with_options
from schemakit.migrations.partitions import CreatePartitionsOp, DropPartitionsOp
from schemakit.migrations.search import (
    CreateSearchIndexOp,
    CreateVectorExtensionOp,
    DropSearchIndexOp,
    DropVectorExtensionOp,
)

__all__ = [
    "CHECKSUM_TABLE",
    "ChecksumLedger",
    "CreateAuditTriggerOp",
    "CreatePartitionsOp",
    "CreateSchemakitFunctionsOp",
    "CreateSearchIndexOp",
    "CreateUpdatedAtTriggerOp",
    "CreateVectorExtensionOp",
    "DropAuditTriggerOp",
    "DropPartitionsOp",
    "DropSchemakitFunctionsOp",
    "DropSearchIndexOp",
    "DropUpdatedAtTriggerOp",
    "DropVectorExtensionOp",
    "EditedMigrationError",
    "MigrationLockTimeoutError",
    "MigrationOptions",
    "downgrade",
    "downgrade_async",
    "file_checksum",
    "make_config",
    "migration_lock",
    "migration_options",
    "run_migrations",
    "upgrade",
    "upgrade_async",
    "with_options",
]
