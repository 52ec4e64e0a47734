import asyncio

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemakit import (
    acting_as,
    async_session_scope,
    current_actor,
    make_async_session_factory,
    make_session_factory,
    session_scope,
    uuid7,
)
from tests.helpers import make_user
from tests.library.models import User


def test_actors_nest_and_restore() -> None:
    assert current_actor() is None
    user_id = uuid7()
    with acting_as(user_id):
        assert current_actor() == str(user_id)
        with acting_as("cron"):
            assert current_actor() == "cron"
        assert current_actor() == str(user_id)
    assert current_actor() is None


def test_an_empty_actor_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"), acting_as(""):
        pass


def test_insert_and_update_record_their_actors(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with acting_as("alice"), session_scope(factory) as session:
        user = make_user()
        session.add(user)
    with acting_as("bob"), session_scope(factory) as session:
        session.get_one(User, user.id).display_name = "Ada L."
    with factory() as session:
        stored = session.get_one(User, user.id)
        assert (stored.created_by, stored.updated_by) == ("alice", "bob")


def test_writes_without_an_actor_record_none(engine: Engine) -> None:
    with session_scope(make_session_factory(engine)) as session:
        user = make_user()
        session.add(user)
    assert (user.created_by, user.updated_by) == (None, None)


async def test_concurrent_tasks_keep_their_own_actor(async_engine: AsyncEngine) -> None:
    factory = make_async_session_factory(async_engine)
    started = asyncio.Barrier(3)

    async def register(actor: str, email: str) -> None:
        with acting_as(actor):
            await started.wait()  # all three tasks are inside acting_as before any writes
            async with async_session_scope(factory) as session:
                session.add(make_user(email))
                await asyncio.sleep(0)
                await session.flush()

    await asyncio.gather(
        register("tenant-a", "a@example.test"),
        register("tenant-b", "b@example.test"),
        register("tenant-c", "c@example.test"),
    )
    async with factory() as session:
        rows = (await session.scalars(select(User).order_by(User.email))).all()
        assert [(row.email[0], row.created_by, row.updated_by) for row in rows] == [
            ("a", "tenant-a", "tenant-a"),
            ("b", "tenant-b", "tenant-b"),
            ("c", "tenant-c", "tenant-c"),
        ]
