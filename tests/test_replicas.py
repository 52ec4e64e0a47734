"""Read replicas against a real streaming replica (``pg_basebackup`` of a throwaway primary): reads go to the
replica and writes to the primary, a transaction and a recent commit read their own writes, a lagging or
unreachable replica serves no reads; with no replicas, a routing session is an ordinary session on both
dialects."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker

from schemakit import ConcurrentUpdateError, DatabaseSettings, make_async_engine, make_engine, uuid7
from schemakit.provisioning.replica import ThrowawayReplicatedCluster
from schemakit.provisioning.servers import find_server_binaries, free_port
from schemakit.replicas import (
    AsyncRoutingSession,
    ReadRouter,
    RoutingSession,
    make_async_routing_session_factory,
    make_routing_session_factory,
)
from tests.helpers import make_product
from tests.library.models import LibraryBase, Product, Tag

ON_REPLICA = select(func.pg_is_in_recovery())


@pytest.fixture(scope="module")
def replicated() -> Iterator[ThrowawayReplicatedCluster]:
    """A throwaway primary with the library's tables, and a streaming replica of it."""
    binaries = find_server_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL server binaries in CI to start a primary and a replica")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) to start a replica")
    with ThrowawayReplicatedCluster(binaries) as cluster:
        engine = make_engine(DatabaseSettings.for_url(cluster.url))
        try:
            LibraryBase.metadata.create_all(engine)
        finally:
            engine.dispose()
        cluster.wait_for_replica()
        yield cluster


@pytest.fixture
def engines(replicated: ThrowawayReplicatedCluster) -> Iterator[tuple[Engine, Engine]]:
    primary = make_engine(DatabaseSettings.for_url(replicated.url))
    replica = make_engine(DatabaseSettings.for_url(replicated.replica_url))
    try:
        yield primary, replica
    finally:
        replicated.resume_replay()
        with primary.begin() as connection:
            connection.execute(text("TRUNCATE tags, products CASCADE"))
        replicated.wait_for_replica()
        primary.dispose()
        replica.dispose()


def _factory(engines: tuple[Engine, Engine], **rules: float) -> sessionmaker[RoutingSession]:
    primary, replica = engines
    return sessionmaker(class_=RoutingSession, expire_on_commit=False, router=ReadRouter(primary, [replica], **rules))


def test_plain_reads_go_to_the_replica_and_a_transaction_that_wrote_reads_the_primary(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    factory = make_routing_session_factory(*engines[:1], [engines[1]], max_lag_s=3600, read_your_writes_s=0)
    with factory() as session:
        assert session.scalar(ON_REPLICA) is True
        session.add(Tag(name="fresh"))
        session.flush()
        assert session.scalar(ON_REPLICA) is False
        assert session.scalars(select(Tag.name)).all() == ["fresh"]
        session.commit()
        assert session.scalar(ON_REPLICA) is True
    replicated.wait_for_replica()
    with factory() as session:
        assert session.scalars(select(Tag.name)).all() == ["fresh"]
        assert session.scalar(select(func.inet_server_port())) == replicated.replica_port
        assert session.scalar(ON_REPLICA.with_for_update()) is False  # locking reads lock the primary's rows
    with factory() as session:
        assert session.scalar(select(Tag.name).union_all(select(Tag.name).where(Tag.name == "x"))) == "fresh"
        assert session.scalar(ON_REPLICA) is True
        session.use_primary()
        assert session.scalar(ON_REPLICA) is False


def test_the_soft_delete_filter_holds_on_replica_reads(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    factory = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=0)
    with factory() as session:
        kept, gone = Tag(name="kept"), Tag(name="gone")
        session.add_all([kept, gone])
        session.flush()
        gone.soft_delete()
        session.commit()
    replicated.wait_for_replica()
    with factory() as session:
        assert session.scalars(select(Tag.name)).all() == ["kept"]
        assert session.scalar(ON_REPLICA) is True


def test_a_commit_keeps_reads_on_the_primary_for_the_read_your_writes_window(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    replicated.pause_replay()
    window = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=30)
    no_window = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=0)
    with window() as session:
        session.add(Tag(name="mine"))
        session.commit()
    with window() as session:
        assert session.scalars(select(Tag.name)).all() == ["mine"]
        assert session.scalar(ON_REPLICA) is False
    with no_window() as session:  # the replica really is behind: without the window the read is stale
        assert session.scalars(select(Tag.name)).all() == []
        assert session.scalar(ON_REPLICA) is True


def test_only_a_transaction_that_wrote_opens_the_read_your_writes_window(engines: tuple[Engine, Engine]) -> None:
    factory = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=30)
    with factory() as session:
        session.use_primary()
        assert session.scalar(ON_REPLICA) is False
        session.commit()
    with factory() as session:
        assert session.scalar(ON_REPLICA) is True  # reading on the primary wrote nothing
        session.execute(text("SELECT 1"))  # text(): it may write, so it counts as one
        session.commit()
    with factory() as session:
        assert session.scalar(ON_REPLICA) is False


def test_a_replica_further_behind_than_the_limit_serves_no_reads_until_it_catches_up(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    factory = _factory(engines, max_lag_s=0.3, read_your_writes_s=0, check_interval_s=0.05)
    with factory() as session:
        assert session.scalar(ON_REPLICA) is True
    replicated.pause_replay()
    with factory() as session:
        session.add(Tag(name="late"))
        session.commit()
    time.sleep(0.5)
    with factory() as session:
        assert session.scalars(select(Tag.name)).all() == ["late"]
        assert session.scalar(ON_REPLICA) is False
    replicated.resume_replay()
    replicated.wait_for_replica()
    time.sleep(0.1)
    with factory() as session:
        assert session.scalar(ON_REPLICA) is True
        assert session.scalars(select(Tag.name)).all() == ["late"]


def test_an_unreachable_replica_serves_no_reads_and_says_so(
    engines: tuple[Engine, Engine], caplog: pytest.LogCaptureFixture
) -> None:
    primary = engines[0]
    down = make_engine(DatabaseSettings.for_url(primary.url.set(port=free_port("127.0.0.1"))))
    factory = make_routing_session_factory(primary, [down], max_lag_s=3600, read_your_writes_s=0)
    try:
        with caplog.at_level(logging.WARNING, logger="schemakit.replicas.lag"), factory() as session:
            session.add(Tag(name="safe"))
            session.commit()
            assert session.scalars(select(Tag.name)).all() == ["safe"]
            assert session.scalar(ON_REPLICA) is False
        assert "is unreachable" in caplog.text
        assert caplog.text.count("is unreachable") == 1
    finally:
        down.dispose()


def test_an_unreachable_replica_is_skipped_through_asyncpg_too(
    replicated: ThrowawayReplicatedCluster, caplog: pytest.LogCaptureFixture
) -> None:
    # asyncpg raises a refused connection as OSError, not as a DBAPI error.
    async def run() -> object:
        primary = make_async_engine(DatabaseSettings.for_url(replicated.url))
        down = make_async_engine(DatabaseSettings.for_url(replicated.url.set(port=free_port("127.0.0.1"))))
        factory = make_async_routing_session_factory(primary, [down], max_lag_s=3600, read_your_writes_s=0)
        try:
            async with factory() as session:
                return await session.scalar(ON_REPLICA)
        finally:
            await primary.dispose()
            await down.dispose()

    with caplog.at_level(logging.WARNING, logger="schemakit.replicas.lag"):
        assert asyncio.run(run()) is False
    assert "is unreachable" in caplog.text


def test_a_stale_replica_read_never_overwrites_a_newer_row(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    factory = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=0)
    with factory() as session:
        session.add(make_product("SKU-R"))
        session.commit()
    replicated.wait_for_replica()
    replicated.pause_replay()
    with factory() as session:
        session.use_primary()
        session.scalars(select(Product)).one().name = "newer"
        session.commit()
    with factory() as session:
        stale = session.scalars(select(Product)).one()
        assert session.scalar(ON_REPLICA) is True
        stale.name = "stale"
        with pytest.raises(ConcurrentUpdateError):
            session.commit()
    with engines[0].connect() as connection:
        assert connection.scalar(select(Product.name)) == "newer"


def test_async_routing_sessions_read_the_replica_and_write_the_primary(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    async def run() -> list[object]:
        primary = make_async_engine(DatabaseSettings.for_url(replicated.url))
        replica = make_async_engine(DatabaseSettings.for_url(replicated.replica_url))
        factory = make_async_routing_session_factory(primary, [replica], max_lag_s=3600, read_your_writes_s=0)
        seen: list[object] = []
        try:
            async with factory() as session:
                seen.append(await session.scalar(ON_REPLICA))
                session.add(Tag(name="async"))
                await session.flush()
                seen.append(await session.scalar(ON_REPLICA))
                await session.commit()
            await asyncio.to_thread(replicated.wait_for_replica)
            async with factory() as session:
                seen.append((await session.scalars(select(Tag.name))).all())
                seen.append(await session.scalar(ON_REPLICA))
                session.use_primary()
                seen.append(await session.scalar(ON_REPLICA))
        finally:
            await primary.dispose()
            await replica.dispose()
        return seen

    assert asyncio.run(run()) == [True, False, ["async"], True, False]


def test_a_factory_bound_to_a_connection_sends_everything_there(
    replicated: ThrowawayReplicatedCluster, engines: tuple[Engine, Engine]
) -> None:
    # As the test kit's bind_session_factory binds an application's factories to a test's transaction.
    factory = make_routing_session_factory(engines[0], [engines[1]], max_lag_s=3600, read_your_writes_s=0)
    with engines[0].connect() as connection:
        connection.execute(Tag.__table__.insert().values(id=uuid7(), name="uncommitted"))
        factory.configure(bind=connection, join_transaction_mode="create_savepoint")
        with factory() as session:
            assert session.scalars(select(Tag.name)).all() == ["uncommitted"]
            assert session.scalar(ON_REPLICA) is False
        connection.rollback()


def test_many_concurrent_async_sessions_share_one_lag_check_without_blocking_each_other(
    replicated: ThrowawayReplicatedCluster,
) -> None:
    async def run() -> list[object]:
        primary = make_async_engine(DatabaseSettings.for_url(replicated.url))
        replica = make_async_engine(DatabaseSettings.for_url(replicated.replica_url))
        router = ReadRouter(primary, [replica], max_lag_s=3600, read_your_writes_s=0, check_interval_s=0.0)
        factory = async_sessionmaker(class_=AsyncRoutingSession, router=router)

        async def read() -> object:
            async with factory() as session:
                return await session.scalar(ON_REPLICA)

        try:
            return await asyncio.wait_for(asyncio.gather(*(read() for _ in range(40))), timeout=30)
        finally:
            await primary.dispose()
            await replica.dispose()

    # Before this deadlocked: the second task waited on a thread lock while the first awaited the replica.
    # A task that finds the lag being read uses the last reading (none at first: the primary).
    answers = asyncio.run(run())
    assert len(answers) == 40
    assert True in answers


def test_without_replicas_a_routing_session_is_an_ordinary_session(engine: Engine) -> None:
    factory = make_routing_session_factory(engine, [])
    with factory() as session:
        session.add_all([Tag(name="kept"), Tag(name="gone")])
        session.commit()
        session.scalars(select(Tag).where(Tag.name == "gone")).one().soft_delete()
        session.commit()
    with factory() as session:
        assert session.scalars(select(Tag.name)).all() == ["kept"]
        assert session.get_bind(clause=select(Tag)) is engine
