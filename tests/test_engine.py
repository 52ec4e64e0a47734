import logging
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool, QueuePool

from schemakit import (
    DatabaseSettings,
    async_session_scope,
    make_async_engine,
    make_async_session_factory,
    make_engine,
    make_session_factory,
    session_scope,
)
from schemakit.engine import SLOW_QUERY_LOGGER
from tests.helpers import make_order, make_product, make_user
from tests.library.models import Order, OrderItem, Product, User

SLOW_QUERY = {
    "postgresql": "SELECT pg_sleep(0.05)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n",
}


def count_users(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(User)) or 0)


def test_session_scope_commits_on_success(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        session.add(make_user())
    assert count_users(engine) == 1


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"), session_scope(make_session_factory(engine)) as session:
        session.add(make_user())
        session.flush()
        raise RuntimeError("boom")
    assert count_users(engine) == 0


async def test_async_session_scope_commits_and_rolls_back(async_engine: AsyncEngine) -> None:
    factory = make_async_session_factory(async_engine)
    async with async_session_scope(factory) as session:
        session.add(make_user("kept@example.test"))
    with pytest.raises(RuntimeError, match="boom"):
        async with async_session_scope(factory) as session:
            session.add(make_user("dropped@example.test"))
            await session.flush()
            raise RuntimeError("boom")
    async with factory() as session:
        assert (await session.scalars(select(User.email))).all() == ["kept@example.test"]


async def test_async_engine_uses_the_async_driver(async_engine: AsyncEngine, dialect: str) -> None:
    expected = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}[dialect]
    assert async_engine.dialect.driver == expected
    async with async_engine.connect() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1


def test_objects_stay_readable_after_the_scope(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        user = make_user()
        session.add(user)
    assert user.email == "ada@example.test"


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        order = make_order(make_user(), make_product("A"))
        session.add(order)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("DELETE FROM users"))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM orders"))
        assert connection.scalar(select(func.count()).select_from(OrderItem)) == 0  # ON DELETE CASCADE
        assert connection.scalar(select(func.count()).select_from(Product)) == 1


def test_numeric_money_keeps_its_cents(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        session.add(make_order(make_user(), make_product("A", "0.10"), make_product("B", "0.20")))
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Order.total)).one() == Decimal("0.30")


def test_slow_queries_are_logged_without_parameters(
    settings: DatabaseSettings, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(settings.model_copy(update={"slow_query_ms": 5}))
    with caplog.at_level(logging.WARNING, logger=SLOW_QUERY_LOGGER.name), engine.connect() as connection:
        connection.execute(text("SELECT :secret"), {"secret": "card-4242"})
        connection.execute(text(SLOW_QUERY[dialect]))
    engine.dispose()
    slow = [record.getMessage() for record in caplog.records if record.name == SLOW_QUERY_LOGGER.name]
    assert len(slow) == 1, slow
    assert slow[0].startswith("slow query (")
    assert "threshold 5 ms" in slow[0]
    assert "card-4242" not in caplog.text


def test_no_slow_query_logging_by_default(
    settings: DatabaseSettings, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(settings)
    with caplog.at_level(logging.WARNING, logger=SLOW_QUERY_LOGGER.name), engine.connect() as connection:
        connection.execute(text(SLOW_QUERY[dialect]))
    engine.dispose()
    assert not caplog.records


@pytest.mark.requires_postgres
def test_postgres_pool_and_connection_settings(postgres_url: str) -> None:
    settings = DatabaseSettings(
        database_url=postgres_url,
        pool_size=3,
        max_overflow=2,
        statement_timeout_ms=1500,
        lock_timeout_ms=700,
        application_name="shop-api",
        _env_file=None,
    )
    engine = make_engine(settings)
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.size() == 3
    with engine.connect() as connection:
        assert connection.scalar(text("SHOW statement_timeout")) == "1500ms"
        assert connection.scalar(text("SHOW lock_timeout")) == "700ms"
        assert (
            connection.scalar(text("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"))
            == "shop-api"
        )
    engine.dispose()


@pytest.mark.requires_postgres
def test_statement_timeout_cancels_a_slow_statement(postgres_url: str) -> None:
    engine = make_engine(DatabaseSettings(database_url=postgres_url, statement_timeout_ms=50, _env_file=None))
    with pytest.raises(DBAPIError, match="statement timeout"), engine.connect() as connection:
        connection.execute(text("SELECT pg_sleep(2)"))
    engine.dispose()


@pytest.mark.requires_postgres
async def test_async_connections_get_the_same_settings(postgres_url: str) -> None:
    settings = DatabaseSettings(
        database_url=postgres_url, statement_timeout_ms=50, application_name="shop-worker", _env_file=None
    )
    engine = make_async_engine(settings)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SHOW application_name")) == "shop-worker"
        with pytest.raises(DBAPIError, match="statement timeout"):
            await connection.execute(text("SELECT pg_sleep(2)"))
    await engine.dispose()


@pytest.mark.requires_postgres
async def test_pgbouncer_mode(postgres_url: str) -> None:
    settings = DatabaseSettings(
        database_url=postgres_url,
        pgbouncer=True,
        statement_timeout_ms=1200,
        lock_timeout_ms=300,
        _env_file=None,
    )
    sync_engine, async_engine = make_engine(settings), make_async_engine(settings)
    assert isinstance(sync_engine.pool, NullPool)
    assert isinstance(async_engine.pool, NullPool)
    with sync_engine.begin() as connection:
        assert connection.scalar(text("SHOW statement_timeout")) == "1200ms"
        assert connection.scalar(text("SHOW lock_timeout")) == "300ms"
    async with async_engine.begin() as connection:
        assert await connection.scalar(text("SHOW statement_timeout")) == "1200ms"
        # Statements are not cached by name, so a server connection shared by clients cannot clash.
        for _ in range(3):
            assert await connection.scalar(select(func.count()).select_from(User)) == 0
    sync_engine.dispose()
    await async_engine.dispose()


def test_begin_or_nest_commits_alone_and_nests_inside_a_transaction(engine: Engine) -> None:
    from schemakit.engine import begin_or_nest

    with engine.connect() as connection:
        with begin_or_nest(connection):
            connection.execute(text("INSERT INTO users (email, display_name) VALUES ('a@example.test', 'A')"))
        assert not connection.in_transaction()
    with engine.connect() as connection, connection.begin() as outer:
        with pytest.raises(RuntimeError, match="inner"), begin_or_nest(connection):
            connection.execute(text("INSERT INTO users (email, display_name) VALUES ('b@example.test', 'B')"))
            raise RuntimeError("inner")
        assert outer.is_active  # only the savepoint was rolled back
    assert count_users(engine) == 1


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///app.db", "app.db"),
        ("sqlite:////tmp/x.db", "/tmp/x.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
    ],
)
def test_sqlite_file(url: str, file: str | None) -> None:
    from sqlalchemy.engine import make_url

    from schemakit.engine import sqlite_file

    assert sqlite_file(make_url(url)) == file
