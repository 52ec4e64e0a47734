"""A read through the routing session against the same read on a session bound to the replica.

A throwaway primary with a streaming replica (``pg_basebackup``): 10,000 rows, then 2,000 reads by primary key
(each in a new session, as a request handler would), routed by :class:`schemakit.replicas.RoutingSession` to the
replica (its lag read at most once a second) and directly on a :class:`schemakit.Session` bound to the replica,
interleaved in rounds. Reported: medians and ``routing_overhead`` (routed / direct), written to ``routing.json``
and into ``scale.json``.

    python -m benchmarks.bench_routing [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from benchmarks.common import Measurement, header, merge_into, save, table
from schemakit import DatabaseSettings, Session, make_engine
from schemakit.provisioning.replica import ThrowawayReplicatedCluster
from schemakit.provisioning.servers import find_server_binaries
from schemakit.replicas import make_routing_session_factory

ROWS = 10_000


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


def _reads(factory: Callable[[], Session], count: int) -> float:
    started = time.perf_counter()
    for number in range(count):
        with factory() as session:
            session.scalars(select(Item).where(Item.id == number % ROWS)).one()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    arguments = parser.parse_args()
    reads, rounds = (2_000, 3) if arguments.quick else (2_000, 9)
    binaries = find_server_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL server binaries to start a primary and a replica")
    with ThrowawayReplicatedCluster(binaries) as cluster:
        print(header(f"Routing: {reads:,} reads by primary key, routed against direct"), flush=True)
        primary = make_engine(DatabaseSettings.for_url(cluster.url))
        replica = make_engine(DatabaseSettings.for_url(cluster.replica_url))
        try:
            Base.metadata.create_all(primary)
            with primary.begin() as connection:
                connection.execute(Item.__table__.insert(), [{"id": n, "name": f"item {n}"} for n in range(ROWS)])
            cluster.wait_for_replica()
            routed = make_routing_session_factory(primary, [replica], max_lag_s=2.0, read_your_writes_s=0)
            direct = sessionmaker(replica, class_=Session, expire_on_commit=False)
            _reads(routed, 200)
            _reads(direct, 200)
            samples: dict[str, list[float]] = {"routed": [], "direct": []}
            for _ in range(rounds):
                samples["direct"].append(_reads(direct, reads))
                samples["routed"].append(_reads(routed, reads))
        finally:
            primary.dispose()
            replica.dispose()
    direct_name = f"{reads:,} reads, a session bound to the replica"
    measurements = [
        Measurement(direct_name, samples["direct"]),
        Measurement(f"{reads:,} reads, routed to the replica", samples["routed"], direct_name),
    ]
    headline = {"routing_overhead": round(measurements[1].median / measurements[0].median, 3)}
    print(table(measurements))
    print(f"routed / direct: {headline['routing_overhead']:.2f}x")
    path = save("routing", "Read routing", measurements, quick=arguments.quick, **headline)
    merge_into("scale", path, headline, measurements)
    print(f"results: {path} (and scale.json beside it)")


if __name__ == "__main__":
    main()
