"""Plan checks in tests: a sequential scan over a big table fails, the same query with its index passes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from schemakit import TYPE_ANNOTATION_MAP, DatabaseSettings, make_async_engine, make_engine, make_metadata
from schemakit.testing.plans import PlanCheckError, QueryPlans

ROWS = 5000


class PlanBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Parcel(PlanBase):
    __tablename__ = "parcels"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int]


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))
    PlanBase.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            Parcel.__table__.insert(),
            [{"id": i, "status": f"s{i % 100}", "weight": i} for i in range(ROWS)],
        )
    _analyze(engine)
    yield engine
    engine.dispose()


def _analyze(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def _by_status(session: Session) -> list[Parcel]:
    return list(session.scalars(select(Parcel).where(Parcel.status == "s7")))


def test_a_sequential_scan_over_a_big_table_fails_and_passes_with_the_index(
    engine: Engine, query_plans: QueryPlans
) -> None:
    with Session(engine) as session:
        with (
            pytest.raises(PlanCheckError, match=rf"sequential scan over parcels \({ROWS:,} rows; the bound is 1,000\)"),
            query_plans.capture(session, seq_scan_rows=1000),
        ):
            assert len(_by_status(session)) == ROWS // 100
        with query_plans.capture(session, seq_scan_rows=ROWS):  # the bound is the table's size: allowed
            _by_status(session)
    with engine.begin() as connection:
        connection.execute(text("CREATE INDEX idx_parcels_status ON parcels (status)"))
    _analyze(engine)
    with Session(engine) as session, query_plans.capture(session, seq_scan_rows=1000) as plans:
        assert len(_by_status(session)) == ROWS // 100
    assert [plan.scans for plan in plans] == [[]]
    assert len(query_plans.plans) == 3


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_a_plan_above_its_cost_bound_fails(engine: Engine, query_plans: QueryPlans) -> None:
    with engine.connect() as connection:
        with query_plans.capture(connection, max_cost=10_000) as plans:
            connection.execute(select(Parcel).where(Parcel.weight > 10))
        cost = plans[0].cost
        assert cost is not None
        expected = rf"plan cost {cost:.1f} is above 10 in: SELECT"
        with pytest.raises(PlanCheckError, match=expected), query_plans.capture(connection, max_cost=10):
            connection.execute(select(Parcel).where(Parcel.weight > 10))


async def test_async_sessions_are_checked_too(empty_database_url: str, engine: Engine, query_plans: QueryPlans) -> None:
    async_engine = make_async_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))
    try:
        async with AsyncSession(async_engine) as session:
            failing = pytest.raises(PlanCheckError, match="sequential scan over parcels")
            with failing, query_plans.capture(session, seq_scan_rows=1000):
                found = (await session.scalars(select(Parcel).where(Parcel.status == "s7"))).all()
                assert len(found) == ROWS // 100
            with query_plans.capture(session, seq_scan_rows=1000):
                await session.get(Parcel, 7)
    finally:
        await async_engine.dispose()


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_hypopg_suggests_an_index_that_lowers_the_cost(engine: Engine, query_plans: QueryPlans) -> None:
    with engine.connect() as connection:
        available = connection.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'"))
    if not available:
        message = "hypopg is not installed on this server (Debian: postgresql-15-hypopg)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with Session(engine) as session:
        with pytest.raises(PlanCheckError) as failure, query_plans.capture(session, seq_scan_rows=1000):
            _by_status(session)
        assert "suggested: CREATE INDEX ON parcels (status) (cost " in str(failure.value)
        # A hypothetical index that does not lower the cost by 30 % is not suggested: every row matches.
        with pytest.raises(PlanCheckError) as failure, query_plans.capture(session, seq_scan_rows=1000):
            session.scalars(select(Parcel).where(Parcel.weight >= 0)).all()
        assert "suggested" not in str(failure.value)
        # Nothing hypopg made is left behind.
        assert session.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")) == 0
