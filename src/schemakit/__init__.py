"""schemakit: a typed model layer, settings, sessions and migration helpers for SQLAlchemy 2 and Alembic.

The public API is re-exported here; see each module for details:

* models: :class:`Base`, :class:`Entity`, the mixins, :func:`make_metadata` and :data:`NAMING_CONVENTION`;
* types: :class:`UTCDateTime`, :data:`JSONDocument`, :func:`string_enum`;
* ids: :func:`uuid7`, :func:`uuid7_time`, :func:`deterministic_uuid7`;
* audit: :func:`acting_as`, :func:`current_actor`;
* settings and sessions: :class:`DatabaseSettings`, :func:`make_engine`, :func:`make_async_engine`, the
  session factories and scopes, :class:`Session`, :class:`AsyncSession`;
* errors: :class:`SchemakitError` and its subclasses.

Each name is imported on first use, so a part of schemakit that needs little (a migration run, the command
line) loads little: ``import schemakit.migrations`` does not import the ORM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemakit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from schemakit.audit import acting_as, current_actor
    from schemakit.base import Base, Entity
    from schemakit.conflicts import ConcurrentUpdateError, VersionMismatchError
    from schemakit.engine import make_async_engine, make_engine
    from schemakit.errors import MigrationError, NaiveDatetimeError, SchemakitError
    from schemakit.ids import deterministic_uuid7, uuid7, uuid7_time
    from schemakit.mixins import (
        INCLUDE_DELETED,
        AuditMixin,
        AuditTrailMixin,
        SearchableMixin,
        ServerUUIDv7PrimaryKeyMixin,
        SoftDeleteMixin,
        TimePartitionedMixin,
        TimestampMixin,
        UUIDv7PrimaryKeyMixin,
        VersionedMixin,
        unique_among_live,
    )
    from schemakit.naming import NAMING_CONVENTION, make_metadata, shorten_identifier
    from schemakit.session import (
        AsyncSession,
        Session,
        async_session_scope,
        make_async_session_factory,
        make_session_factory,
        session_scope,
    )
    from schemakit.settings import AppEnv, DatabaseSettings
    from schemakit.types import TYPE_ANNOTATION_MAP, JSONDocument, UTCDateTime, string_enum, utc_now

__all__ = [
    "INCLUDE_DELETED",
    "NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "AppEnv",
    "AsyncSession",
    "AuditMixin",
    "AuditTrailMixin",
    "Base",
    "ConcurrentUpdateError",
    "DatabaseSettings",
    "Entity",
    "JSONDocument",
    "MigrationError",
    "NaiveDatetimeError",
    "SchemakitError",
    "SearchableMixin",
    "ServerUUIDv7PrimaryKeyMixin",
    "Session",
    "SoftDeleteMixin",
    "TimePartitionedMixin",
    "TimestampMixin",
    "UTCDateTime",
    "UUIDv7PrimaryKeyMixin",
    "VersionMismatchError",
    "VersionedMixin",
    "acting_as",
    "async_session_scope",
    "current_actor",
    "deterministic_uuid7",
    "make_async_engine",
    "make_async_session_factory",
    "make_engine",
    "make_metadata",
    "make_session_factory",
    "session_scope",
    "shorten_identifier",
    "string_enum",
    "unique_among_live",
    "utc_now",
    "uuid7",
    "uuid7_time",
]

#: Where each public name lives.
_HOMES = {
    "INCLUDE_DELETED": "schemakit.mixins",
    "NAMING_CONVENTION": "schemakit.naming",
    "TYPE_ANNOTATION_MAP": "schemakit.types",
    "AppEnv": "schemakit.settings",
    "AsyncSession": "schemakit.session",
    "AuditMixin": "schemakit.mixins",
    "AuditTrailMixin": "schemakit.mixins",
    "Base": "schemakit.base",
    "ConcurrentUpdateError": "schemakit.conflicts",
    "DatabaseSettings": "schemakit.settings",
    "Entity": "schemakit.base",
    "JSONDocument": "schemakit.types",
    "MigrationError": "schemakit.errors",
    "NaiveDatetimeError": "schemakit.errors",
    "SchemakitError": "schemakit.errors",
    "SearchableMixin": "schemakit.mixins",
    "TimePartitionedMixin": "schemakit.mixins",
    "ServerUUIDv7PrimaryKeyMixin": "schemakit.mixins",
    "Session": "schemakit.session",
    "SoftDeleteMixin": "schemakit.mixins",
    "TimestampMixin": "schemakit.mixins",
    "UTCDateTime": "schemakit.types",
    "UUIDv7PrimaryKeyMixin": "schemakit.mixins",
    "VersionMismatchError": "schemakit.conflicts",
    "VersionedMixin": "schemakit.mixins",
    "acting_as": "schemakit.audit",
    "async_session_scope": "schemakit.session",
    "current_actor": "schemakit.audit",
    "deterministic_uuid7": "schemakit.ids",
    "make_async_engine": "schemakit.engine",
    "make_async_session_factory": "schemakit.session",
    "make_engine": "schemakit.engine",
    "make_metadata": "schemakit.naming",
    "make_session_factory": "schemakit.session",
    "session_scope": "schemakit.session",
    "shorten_identifier": "schemakit.naming",
    "string_enum": "schemakit.types",
    "unique_among_live": "schemakit.mixins",
    "utc_now": "schemakit.types",
    "uuid7": "schemakit.ids",
    "uuid7_time": "schemakit.ids",
}


__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
