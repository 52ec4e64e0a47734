"""Tables range-partitioned by creation time on their UUIDv7 ids.

* :class:`~schemakit.mixins.time_partitioned.TimePartitionedMixin` declares one (exported from ``schemakit``).
* :mod:`~schemakit.partitioning.bounds`: time ranges as id ranges, and :func:`created_between` to filter by
  creation time so PostgreSQL prunes partitions.
* :mod:`~schemakit.partitioning.maintenance`: making partitions ahead and detaching old ones
  (``schemakit partitions`` runs :func:`maintain_partitions` on the configured database).
* ``op.create_partitions`` / ``op.drop_partitions`` in migrations (:mod:`schemakit.migrations.partitions`).
"""

from schemakit.partitioning.bounds import Interval, created_between, id_bound, interval_start, next_start
from schemakit.partitioning.maintenance import (
    Partition,
    PartitionReport,
    detach_partitions,
    ensure_partitions,
    maintain_partitions,
    partitions_of,
)
from schemakit.partitioning.options import PARTITIONED, partitioning_of

__all__ = [
    "PARTITIONED",
    "Interval",
    "Partition",
    "PartitionReport",
    "created_between",
    "detach_partitions",
    "ensure_partitions",
    "id_bound",
    "interval_start",
    "maintain_partitions",
    "next_start",
    "partitioning_of",
    "partitions_of",
]
