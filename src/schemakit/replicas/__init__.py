"""Read replicas: sessions that read from streaming replicas and write to the primary.

Build the engines from the settings (``DB_REPLICA_URLS``, ``DB_REPLICA_MAX_LAG_S``, ``DB_READ_YOUR_WRITES_S``)
and hand them to a routing factory::

    settings = DatabaseSettings()
    primary = make_engine(settings)
    replicas = [make_engine(replica) for replica in settings.for_replicas()]
    Session = make_routing_session_factory(
        primary, replicas, max_lag_s=settings.replica_max_lag_s, read_your_writes_s=settings.read_your_writes_s
    )

The rules are in :mod:`schemakit.replicas.session`; a replica that cannot be reached serves no reads (a warning
is logged) until it answers again; the primary's failures reach the caller as usual.
"""

from schemakit.replicas.lag import ReplicaState, read_lag
from schemakit.replicas.router import ReadRouter
from schemakit.replicas.session import (
    AsyncRoutingSession,
    RoutingSession,
    make_async_routing_session_factory,
    make_routing_session_factory,
)

__all__ = [
    "AsyncRoutingSession",
    "ReadRouter",
    "ReplicaState",
    "RoutingSession",
    "make_async_routing_session_factory",
    "make_routing_session_factory",
    "read_lag",
]
