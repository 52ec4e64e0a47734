import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, String, event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from schemakit import (
    ConcurrentUpdateError,
    DatabaseSettings,
    Session,
    VersionedMixin,
    VersionMismatchError,
    async_session_scope,
    make_async_session_factory,
    make_engine,
    make_metadata,
    make_session_factory,
    session_scope,
)
from schemakit.testing.plans import QueryPlans
from tests.helpers import make_product
from tests.library.models import Product


def saved_product(engine: Engine) -> Product:
    with session_scope(make_session_factory(engine)) as session:
        product = make_product("SKU-1", "10.00")
        session.add(product)
    return product


def test_version_starts_at_one_and_counts_updates(engine: Engine) -> None:
    product = saved_product(engine)
    assert product.version == 1
    factory = make_session_factory(engine)
    for price in ("11.00", "12.00"):
        with session_scope(factory) as session:
            session.get_one(Product, product.id).price = Decimal(price)
    with factory() as session:
        assert session.get_one(Product, product.id).version == 3


def test_the_second_of_two_concurrent_writers_gets_a_conflict(engine: Engine) -> None:
    product = saved_product(engine)
    factory = make_session_factory(engine)
    with factory() as first, factory() as second:
        mine = first.get_one(Product, product.id)
        theirs = second.get_one(Product, product.id)
        mine.price = Decimal("20.00")
        first.commit()
        theirs.price = Decimal("30.00")
        conflict = r"products \S+ is at version 2, but this session loaded version 1"
        with pytest.raises(ConcurrentUpdateError, match=conflict) as caught:
            second.commit()
        assert isinstance(caught.value, StaleDataError)
        second.rollback()
    with factory() as session:
        survivor = session.get_one(Product, product.id)
        assert (survivor.price, survivor.version) == (Decimal("20.00"), 2)


def test_a_delete_of_a_changed_row_is_a_conflict_too(engine: Engine) -> None:
    product = saved_product(engine)
    factory = make_session_factory(engine)
    with factory() as first, factory() as second:
        first.get_one(Product, product.id).name = "renamed"
        stale = second.get_one(Product, product.id)
        first.commit()
        second.delete(stale)
        with pytest.raises(ConcurrentUpdateError):
            second.commit()
    with factory() as session:
        assert session.get_one(Product, product.id).name == "renamed"


def test_expect_version_refuses_a_stale_client_before_writing(engine: Engine) -> None:
    product = saved_product(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.get_one(Product, product.id).name = "v2"
    with pytest.raises(VersionMismatchError) as caught, session_scope(factory) as session:
        loaded = session.get_one(Product, product.id)
        loaded.expect_version(1)
        loaded.name = "never written"
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert str(caught.value) == "Product is at version 2, but the client expected version 1"
    with factory() as session:
        assert session.get_one(Product, product.id).name == "v2"


def test_expect_version_passes_for_the_current_version(engine: Engine) -> None:
    product = saved_product(engine)
    with session_scope(make_session_factory(engine)) as session:
        loaded = session.get_one(Product, product.id)
        loaded.expect_version(1)
        loaded.name = "v2"
    assert loaded.version == 2


async def test_concurrent_async_writers(async_engine: AsyncEngine) -> None:
    factory = make_async_session_factory(async_engine)
    async with async_session_scope(factory) as session:
        product = make_product("ASYNC", "1.00")
        session.add(product)
    both_loaded = asyncio.Barrier(2)

    async def write(price: str) -> str:
        async with factory() as session:
            loaded = await session.get_one(Product, product.id)
            await both_loaded.wait()
            loaded.price = Decimal(price)
            try:
                await session.commit()
            except ConcurrentUpdateError:
                return "conflict"
            return "written"

    outcomes = await asyncio.gather(write("2.00"), write("3.00"))
    assert sorted(outcomes) == ["conflict", "written"]
    async with factory() as session:
        stored = await session.get_one(Product, product.id)
        winner = "2.00" if outcomes[0] == "written" else "3.00"
        assert (stored.price, stored.version) == (Decimal(winner), 2)


def test_sixteen_writers_lose_no_increment(engine: Engine, settings: DatabaseSettings) -> None:
    product = saved_product(engine)
    # A connection for every writer, so none waits for the pool while the others wait for the row.
    writers = make_engine(settings.model_copy(update={"pool_size": 16, "max_overflow": 0}))
    factory = make_session_factory(writers)
    conflicts = []

    def increment_a_hundred_times() -> None:
        for _ in range(100):
            while True:
                try:
                    with session_scope(factory) as session:
                        session.get_one(Product, product.id).price += 1
                    break
                except ConcurrentUpdateError:
                    conflicts.append(1)
                except OperationalError as exc:  # SQLite: the write lock was busy; try again
                    if "locked" not in str(exc):
                        raise

    with ThreadPoolExecutor(16) as pool:
        for done in [pool.submit(increment_a_hundred_times) for _ in range(16)]:
            done.result()
    writers.dispose()
    with make_session_factory(engine)() as session:
        stored = session.get_one(Product, product.id)
        assert (stored.price, stored.version) == (Decimal("1610.00"), 1601)
    assert conflicts, "with sixteen writers on one row, some must have met a conflict and retried"


def test_a_flush_of_many_rows_checks_them_in_one_statement_and_writes_them_in_one_batch(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.add_all([make_product(f"SKU-{n}") for n in range(50)])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(maxsplit=1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(factory) as session:
            for product in session.scalars(select(Product)):
                product.name = f"renamed {product.sku}"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements.count("UPDATE") <= 2  # SQLite also takes its write lock with one
    assert statements.count("SELECT") == 2  # the load and the version check
    with factory() as session:
        assert set(session.scalars(select(Product.version))) == {2}


def test_the_version_check_of_a_large_flush_reads_only_its_rows(engine: Engine, query_plans: QueryPlans) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.add_all([make_product(f"SKU-{n}") for n in range(5000)])
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    with factory() as session:
        products = list(session.scalars(select(Product).order_by(Product.sku).limit(2000)))
        for product in products:
            product.name = f"renamed {product.sku}"
        # The check probes the key for each flushed row: it must not read the whole table, whatever its size.
        with query_plans.capture(session, seq_scan_rows=100) as plans:
            session.flush()
        session.commit()
    assert any("count(" in plan.statement for plan in plans)


def test_a_batch_with_stale_rows_names_them_and_writes_nothing(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.add_all([make_product(f"SKU-{n}") for n in range(10)])
    with factory() as mine, factory() as theirs:
        loaded = list(mine.scalars(select(Product).order_by(Product.sku)))  # SKU-0, SKU-1, ... SKU-9
        stale_ids = [str(loaded[3].id), str(loaded[7].id)]
        for product in theirs.scalars(select(Product).where(Product.sku.in_(["SKU-3", "SKU-7"]))):
            product.name = "theirs"
        theirs.commit()
        for product in loaded:
            product.name = "mine"
        with pytest.raises(ConcurrentUpdateError, match="2 of 10 row") as caught:
            mine.flush()
        mine.rollback()
    assert all(stale in str(caught.value) for stale in stale_ids)
    with factory() as session:
        names = dict(session.execute(select(Product.sku, Product.name)).all())
        assert [sku for sku, name in names.items() if name == "mine"] == []
        assert sorted(sku for sku, name in names.items() if name == "theirs") == ["SKU-3", "SKU-7"]


def test_setting_a_value_it_already_has_writes_nothing(engine: Engine) -> None:
    product = saved_product(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        loaded = session.get_one(Product, product.id)
        loaded.name = loaded.name
    with factory() as session:
        assert session.get_one(Product, product.id).version == 1


class _TwoColumnKeyBase(DeclarativeBase):
    metadata = make_metadata()


class Slot(VersionedMixin, _TwoColumnKeyBase):
    """A versioned model keyed by two columns: the check's general path (tuple IN), not the one-key fast ones."""

    __tablename__ = "slots"
    aisle: Mapped[str] = mapped_column(String(10), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20))


def _one_row_changed_by_another_session(
    engine: Engine, rows: list[Any], stale_key: Any, conflict: str
) -> sessionmaker[Session]:
    """Save ``rows``; another session relabels one; this one's flush of all fails naming it, then a retry wins.

    Returns:
        The session factory, to read the outcome with.
    """
    model = type(rows[0])
    _TwoColumnKeyBase.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        session.add_all(rows)
    with factory() as mine, factory() as theirs:
        loaded = mine.scalars(select(model)).all()
        theirs.get_one(model, stale_key).label = "theirs"
        theirs.commit()
        for row in loaded:
            row.label = "mine"
        with pytest.raises(ConcurrentUpdateError, match=conflict):
            mine.flush()
        mine.rollback()
        for row in mine.scalars(select(model)):
            row.label = "mine"
        mine.commit()
    return factory


def test_a_table_keyed_by_two_columns_is_checked_and_batched_too(empty_database_url: str) -> None:
    engine = make_engine(DatabaseSettings.for_url(empty_database_url))
    rows = [Slot(aisle="A", position=n, label="new") for n in range(3)]
    conflict = r"1 of 3 row\(s\).*slots \('A', 1\) is at version 2"
    factory = _one_row_changed_by_another_session(engine, rows, ("A", 1), conflict)
    with factory() as session:
        assert [(slot.label, slot.version) for slot in session.scalars(select(Slot).order_by(Slot.position))] == [
            ("mine", 2),
            ("mine", 3),
            ("mine", 2),
        ]
    engine.dispose()


class Bin(VersionedMixin, _TwoColumnKeyBase):
    """A versioned model keyed by an integer: PostgreSQL gets its keys as an array literal, as for UUIDs."""

    __tablename__ = "bins"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(20))


class Shelf(VersionedMixin, _TwoColumnKeyBase):
    """A versioned model keyed by text, which may hold anything: PostgreSQL gets its keys as a typed array."""

    __tablename__ = "shelves"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    label: Mapped[str] = mapped_column(String(20))


@pytest.mark.parametrize(
    ("model", "keys"),
    [(Bin, [1, 2, 3]), (Shelf, ['a,"b"}', "{c}", "d\\e"])],  # text keys that an array literal would garble
    ids=["integer key", "text key"],
)
def test_tables_keyed_by_one_integer_or_text_column_are_checked_too(
    empty_database_url: str, model: type[Bin | Shelf], keys: list[Any]
) -> None:
    engine = make_engine(DatabaseSettings.for_url(empty_database_url))
    key = model.__mapper__.primary_key[0].key
    rows = [model(**{key: value}, label="new") for value in keys]
    conflict = rf"1 of 3 row\(s\).* {re.escape(str(keys[1]))} is at version 2"
    factory = _one_row_changed_by_another_session(engine, rows, keys[1], conflict)
    with factory() as session:
        versions = {getattr(row, key): (row.label, row.version) for row in session.scalars(select(model))}
    assert versions == {keys[0]: ("mine", 2), keys[1]: ("mine", 3), keys[2]: ("mine", 2)}
    engine.dispose()
