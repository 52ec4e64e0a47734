"""Through a real PgBouncer (1.18, transaction mode, older than its prepared-statement support): schemakit's
PgBouncer mode with psycopg and asyncpg, sessions, soft delete, version conflicts and seeding; migrations
refused through it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemakit import ConcurrentUpdateError, DatabaseSettings, make_async_engine, make_engine, make_session_factory
from schemakit.errors import MigrationError
from schemakit.migrations import upgrade
from schemakit.migrations.commands import make_config
from schemakit.provisioning.pgbouncer import ThrowawayPgBouncer, find_pgbouncer
from schemakit.seeding import load_fixtures, seed
from schemakit.testing import TestDatabase
from tests.helpers import make_product, make_user
from tests.library.models import LibraryBase, Product, Tag, User

pytestmark = pytest.mark.requires_postgres
ROOT = Path(__file__).parent.parent


@pytest.fixture
def pooled(db_committed: TestDatabase) -> Iterator[DatabaseSettings]:
    """Settings for the test's database through a fresh PgBouncer (20 server connections, transaction mode)."""
    if find_pgbouncer() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no pgbouncer binary in CI")
        pytest.skip("no pgbouncer binary (Debian: apt install pgbouncer)")
    with ThrowawayPgBouncer(db_committed.settings.sync_url) as bouncer:
        url = bouncer.url.render_as_string(hide_password=False)
        yield DatabaseSettings(database_url=url, _env_file=None).model_copy(update={"pgbouncer": True})


def test_sync_sessions_soft_delete_and_version_conflicts_work_through_pgbouncer(pooled: DatabaseSettings) -> None:
    engine = make_engine(pooled)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            session.add_all([make_user(), make_product("SKU-1"), Tag(name="kept"), Tag(name="gone")])
            session.commit()
            session.scalars(select(Tag).where(Tag.name == "gone")).one().soft_delete()
            session.commit()
            assert session.scalars(select(Tag.name)).all() == ["kept"]
        with factory() as first, factory() as second:
            mine = first.scalars(select(Product)).one()
            theirs = second.scalars(select(Product)).one()
            mine.name = "mine"
            first.commit()
            theirs.name = "theirs"
            with pytest.raises(ConcurrentUpdateError):
                second.commit()
        for _ in range(50):  # the same statements again and again, on whichever server connection comes
            with factory() as session:
                assert session.scalar(select(func.count()).select_from(User)) == 1
    finally:
        engine.dispose()


def test_asyncpg_runs_many_concurrent_transactions_through_pgbouncer(pooled: DatabaseSettings) -> None:
    async def run() -> int:
        engine = make_async_engine(pooled)

        async def client(number: int) -> int:
            done = 0
            for round_ in range(25):
                async with AsyncSession(engine) as session:
                    session.add(Tag(name=f"tag {number}-{round_}"))
                    await session.commit()
                    done += await session.scalar(select(func.count()).select_from(Tag)) > 0
            return done

        try:
            return sum(await asyncio.gather(*(client(number) for number in range(16))))
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == 16 * 25


def test_seeding_works_through_pgbouncer(pooled: DatabaseSettings) -> None:
    engine = make_engine(pooled)
    try:
        with engine.connect() as connection:
            report = seed(
                connection, load_fixtures(ROOT / "tests" / "library" / "fixtures"), mappers=LibraryBase.registry
            )
        with engine.connect() as connection:
            users = connection.scalar(select(func.count()).select_from(User))
            again = seed(
                connection, load_fixtures(ROOT / "tests" / "library" / "fixtures"), mappers=LibraryBase.registry
            )
    finally:
        engine.dispose()
    assert report.inserted > 0
    assert users == sum(model.inserted for model in report.models if model.model == "User")
    assert (again.inserted, again.updated) == (0, 0)


def test_migrations_refuse_the_pooler_and_use_the_direct_url(
    pooled: DatabaseSettings, db_committed: TestDatabase
) -> None:
    config = make_config(ROOT / "tests" / "library" / "alembic.ini", settings=pooled)
    with pytest.raises(MigrationError, match=r"cannot migrate through PgBouncer .* set MIGRATION_DATABASE_URL"):
        upgrade(config)
    direct = pooled.model_copy(update={"migration_database_url": db_committed.settings.database_url})
    upgrade(make_config(ROOT / "tests" / "library" / "alembic.ini", settings=direct))
