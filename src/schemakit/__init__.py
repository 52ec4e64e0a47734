"""schemakit: a typed model layer, settings, sessions and migration helpers for SQLAlchemy 2 and Alembic.

The public API is re-exported here; see each module for details:

* models: :class:`Base`, :class:`Entity`, the mixins, :func:`make_metadata` and :data:`NAMING_CONVENTION`;
* types: :class:`UTCDateTime`, :data:`JSONDocument`, :func:`string_enum`;
* ids: :func:`uuid7`, :func:`uuid7_time`, :func:`deterministic_uuid7`;
* audit: :func:`acting_as`, :func:`current_actor`;
* settings and sessions: :class:`DatabaseSettings`, :func:`make_engine`, :func:`make_async_engine`, the
  session factories and scopes, :class:`Session`, :class:`AsyncSession`;
* errors: :class:`SchemakitError` and its subclasses.
"""

from schemakit.audit import acting_as, current_actor
from schemakit.base import Base, Entity
from schemakit.engine import (
    async_session_scope,
    make_async_engine,
    make_async_session_factory,
    make_engine,
    make_session_factory,
    session_scope,
)
from schemakit.errors import (
    ConcurrentUpdateError,
    MigrationError,
    NaiveDatetimeError,
    SchemakitError,
    VersionMismatchError,
)
from schemakit.ids import deterministic_uuid7, uuid7, uuid7_time
from schemakit.mixins import (
    INCLUDE_DELETED,
    AuditMixin,
    ServerUUIDv7PrimaryKeyMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
    unique_among_live,
)
from schemakit.naming import NAMING_CONVENTION, make_metadata, shorten_identifier
from schemakit.session import AsyncSession, Session
from schemakit.settings import AppEnv, DatabaseSettings
from schemakit.types import TYPE_ANNOTATION_MAP, JSONDocument, UTCDateTime, string_enum, utc_now

__all__ = [
    "INCLUDE_DELETED",
    "NAMING_CONVENTION",
    "TYPE_ANNOTATION_MAP",
    "AppEnv",
    "AsyncSession",
    "AuditMixin",
    "Base",
    "ConcurrentUpdateError",
    "DatabaseSettings",
    "Entity",
    "JSONDocument",
    "MigrationError",
    "NaiveDatetimeError",
    "SchemakitError",
    "ServerUUIDv7PrimaryKeyMixin",
    "Session",
    "SoftDeleteMixin",
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
