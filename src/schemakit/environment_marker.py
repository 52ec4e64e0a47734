"""Which environment a database belongs to, recorded in the database itself.

Like Rails' ``ar_internal_metadata``, the table ``schemakit_environment`` holds the ``APP_ENV`` the database
was migrated under. schemakit's migrations write it (online ``upgrade``/``downgrade``; a downgrade to base
removes it with the project's last table), and destructive tools such as the seed loader refuse a database
marked ``production`` whatever the local ``APP_ENV`` says. A database once marked ``production`` stays so:
migrating it from a development machine does not unmark it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Connection, String, Table, insert, inspect, select, update

from schemakit.naming import make_metadata
from schemakit.settings import AppEnv
from schemakit.types import UTCDateTime, utc_now

__all__ = ["ENVIRONMENT_TABLE", "read_environment_marker", "remove_environment_marker", "write_environment_marker"]

log = logging.getLogger(__name__)

#: The marker's table.
ENVIRONMENT_TABLE = "schemakit_environment"
_KEY = "environment"

_table = Table(
    ENVIRONMENT_TABLE,
    make_metadata(),
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def read_environment_marker(connection: Connection) -> str | None:
    """Return the environment the database is marked with, or ``None`` if it has no marker."""
    if not inspect(connection).has_table(ENVIRONMENT_TABLE):
        return None
    return _stored(connection)


def remove_environment_marker(connection: Connection) -> None:
    """Drop the marker's table (a database migrated back to base holds nothing of the project)."""
    _table.drop(connection, checkfirst=True)


def write_environment_marker(connection: Connection, environment: AppEnv | None) -> None:
    """Mark the database as belonging to ``environment``; a ``production`` mark is never lowered.

    Args:
        connection: A connection inside a transaction.
        environment: The environment to record; ``None`` (``APP_ENV`` not set) records nothing and leaves an
            existing mark as it is, since an unset variable is no evidence of any environment.
    """
    existed = inspect(connection).has_table(ENVIRONMENT_TABLE)
    if not existed:
        _table.create(connection)
    if environment is None:
        return
    current = _stored(connection) if existed else None
    if current == environment:
        return
    if current == AppEnv.PRODUCTION:
        log.warning("The database is marked as production; migrating with APP_ENV=%s leaves the mark", environment)
        return
    values = {"value": str(environment), "updated_at": utc_now()}
    if current is None:
        connection.execute(insert(_table).values(key=_KEY, **values))
    else:
        connection.execute(update(_table).where(_table.c.key == _KEY).values(values))


def _stored(connection: Connection) -> str | None:
    return connection.scalar(select(_table.c.value).where(_table.c.key == _KEY))
