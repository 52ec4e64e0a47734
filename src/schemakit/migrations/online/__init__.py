"""Online schema changes: change a busy table without stopping its readers and writers (PostgreSQL).

Each operation below is available as ``op.<name>(...)`` once :mod:`schemakit.migrations` is imported, has a
reverse (so autogenerate writes the downgrade), is safe to run again after a failure half way, and on SQLite
does the plain equivalent, so one revision runs on both:

=====================================  ==================================================================
``create_index_online``                ``CREATE INDEX CONCURRENTLY``; an INVALID leftover is rebuilt
``drop_index_online``                  ``DROP INDEX CONCURRENTLY``
``create_foreign_key_online``          ``NOT VALID``, then ``VALIDATE CONSTRAINT`` on its own
``create_check_constraint_online``     the same, for a CHECK constraint
``create_unique_constraint_online``    a unique index built concurrently, then ``ADD CONSTRAINT ... USING INDEX``
``drop_constraint_online``             ``DROP CONSTRAINT IF EXISTS``, the lock retried
``set_not_null_online``                a validated CHECK proves it, so ``SET NOT NULL`` scans nothing
``drop_not_null_online``               ``DROP NOT NULL``, the lock retried
``add_column_online``                  ``ADD COLUMN IF NOT EXISTS``, the lock retried
``drop_column_online``                 ``DROP COLUMN IF EXISTS``, the lock retried
``backfill``                           key-ordered batches, each its own transaction; resumes after a kill
``expand_column``                      a new column kept in step by a trigger and backfilled
``contract_column``                    the old column and the trigger dropped
``undo_expand_column``                 the reverse of ``expand_column``
=====================================  ==================================================================

How they leave the migration's transaction and retry their locks: :mod:`~schemakit.migrations.online.context`.
Autogenerate writes them for tables that exist: :mod:`~schemakit.migrations.online.rewrite`.
"""

from schemakit.migrations.online.backfill import BACKFILL_PROGRESS_TABLE, BackfillOp
from schemakit.migrations.online.columns import (
    AddColumnOnlineOp,
    ContractColumnOp,
    DropColumnOnlineOp,
    ExpandColumnOp,
    UndoExpandColumnOp,
)
from schemakit.migrations.online.constraints import (
    CreateCheckConstraintOnlineOp,
    CreateForeignKeyOnlineOp,
    DropConstraintOnlineOp,
    DropNotNullOnlineOp,
    SetNotNullOnlineOp,
)
from schemakit.migrations.online.context import LockBudgetExhaustedError, LockRetryPolicy
from schemakit.migrations.online.indexes import CreateIndexOnlineOp, CreateUniqueConstraintOnlineOp, DropIndexOnlineOp
from schemakit.migrations.online.rewrite import online_form, write_online_forms

__all__ = [
    "BACKFILL_PROGRESS_TABLE",
    "AddColumnOnlineOp",
    "BackfillOp",
    "ContractColumnOp",
    "CreateCheckConstraintOnlineOp",
    "CreateForeignKeyOnlineOp",
    "CreateIndexOnlineOp",
    "CreateUniqueConstraintOnlineOp",
    "DropColumnOnlineOp",
    "DropConstraintOnlineOp",
    "DropIndexOnlineOp",
    "DropNotNullOnlineOp",
    "ExpandColumnOp",
    "LockBudgetExhaustedError",
    "LockRetryPolicy",
    "SetNotNullOnlineOp",
    "UndoExpandColumnOp",
    "online_form",
    "write_online_forms",
]
