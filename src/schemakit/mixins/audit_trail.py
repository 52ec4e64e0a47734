"""Every change to a table recorded in the audit log: :class:`AuditTrailMixin`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, event, text
from sqlalchemy.orm import Mapper

from schemakit.audit_log import capture
from schemakit.audit_log.ddl import audit_function_ddl, audit_trigger_ddl
from schemakit.audit_log.tables import AUDITED, audit_tables

__all__ = ["AuditTrailMixin"]


class AuditTrailMixin:
    """Records every insert, update, delete, soft delete and restore of the table in ``audit_logs``.

    The recording is done by triggers in the database (:mod:`schemakit.audit_log.ddl`), so ORM flushes, bulk
    ``update()``/``delete()``, ``INSERT ... ON CONFLICT``, seeding and raw SQL are all recorded, each with the
    actor of :func:`schemakit.audit.acting_as` (none for raw SQL outside it). The model's metadata gets the
    audit log's tables; ``create_all()`` installs the triggers, and autogenerate writes them for migrations.
    The table's primary key must be one column.
    """


def _audited(mapper: Mapper[Any], _class: type) -> None:
    table = mapper.local_table
    if not isinstance(table, Table) or table.info.get(AUDITED):
        return
    table.info[AUDITED] = True
    audit_tables(table.metadata)
    capture.install()
    event.listen(table, "after_create", _create_triggers)


def _create_triggers(table: Table, connection: Connection, **_kw: Any) -> None:
    for statement in (*audit_function_ddl(connection.dialect.name), *audit_trigger_ddl(connection.dialect.name, table)):
        connection.execute(text(statement))


event.listen(AuditTrailMixin, "after_mapper_constructed", _audited, propagate=True)
