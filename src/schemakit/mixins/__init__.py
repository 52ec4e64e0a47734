"""Column mixins for declarative models, usable alone or together.

Each mixin orders its columns with ``sort_order``: ``id`` comes first, then the model's own columns, then
``version``, the audit actors and the timestamps.
"""

from schemakit.mixins.audit import AuditMixin
from schemakit.mixins.audit_trail import AuditTrailMixin
from schemakit.mixins.primary_key import ServerUUIDv7PrimaryKeyMixin, UUIDv7PrimaryKeyMixin
from schemakit.mixins.searchable import SearchableMixin
from schemakit.mixins.soft_delete import INCLUDE_DELETED, SoftDeleteMixin, unique_among_live
from schemakit.mixins.time_partitioned import TimePartitionedMixin
from schemakit.mixins.timestamps import TimestampMixin
from schemakit.mixins.versioned import VersionedMixin

__all__ = [
    "INCLUDE_DELETED",
    "AuditMixin",
    "AuditTrailMixin",
    "SearchableMixin",
    "ServerUUIDv7PrimaryKeyMixin",
    "SoftDeleteMixin",
    "TimePartitionedMixin",
    "TimestampMixin",
    "UUIDv7PrimaryKeyMixin",
    "VersionedMixin",
    "unique_among_live",
]
