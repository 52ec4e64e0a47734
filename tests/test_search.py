"""Search on SQLite and on a real PostgreSQL with pgvector: full text, vectors, and both fused in one statement."""

from __future__ import annotations

import math
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, String, Text, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from schemakit import (
    TYPE_ANNOTATION_MAP,
    DatabaseSettings,
    SoftDeleteMixin,
    make_async_engine,
    make_engine,
    make_metadata,
    utc_now,
)
from schemakit.errors import SchemakitError
from schemakit.migrations import downgrade, upgrade, with_options
from schemakit.mixins.searchable import SearchableMixin
from schemakit.provisioning import PostgresDatabases, PostgresServer, PostgresUnavailableError
from schemakit.provisioning.vector import provide_vector_postgres
from schemakit.search import EXACT_ROWS, embedding_column, hybrid_search, hybrid_search_async
from tests.projects import configure, copy_project

DIMENSIONS = 8


class SearchBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Article(SoftDeleteMixin, SearchableMixin, SearchBase):
    __tablename__ = "articles"
    __searchable__: ClassVar[dict[str, str]] = {"title": "A", "body": "B"}
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    section: Mapped[int] = mapped_column(index=True)
    embedding: Mapped[list[float] | None] = embedding_column(DIMENSIONS)


class Note(SearchableMixin, SearchBase):
    """Searched word for word: the ``simple`` configuration (SQLite: ``unicode61``) does not stem."""

    __tablename__ = "notes"
    __searchable__: ClassVar[dict[str, str]] = {"text": "A"}
    __search_language__ = "simple"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


@pytest.fixture(scope="session")
def vector_server() -> Iterator[PostgresServer]:
    try:
        with provide_vector_postgres() as server:
            yield server
    except PostgresUnavailableError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no PostgreSQL with pgvector in CI: {exc}")
        pytest.skip(f"no PostgreSQL with pgvector: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: str) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(DatabaseSettings(database_url=f"sqlite:///{tmp_path}/search.db", _env_file=None))
        SearchBase.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("vector_server")
    databases = PostgresDatabases(server.url, "search_test")
    database = databases.create_empty(uuid.uuid4().hex[:8])
    engine = make_engine(database.settings)
    with engine.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    SearchBase.metadata.create_all(engine)
    yield engine
    engine.dispose()
    databases.drop(database)


def _vector(seed: int) -> list[float]:
    generator = random.Random(seed)
    return [generator.uniform(-1, 1) for _ in range(DIMENSIONS)]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _fill(engine: Engine, rows: list[Article]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()


def test_full_text_ranks_by_weight_and_stems_words(engine: Engine) -> None:
    _fill(
        engine,
        [
            Article(id=1, title="Gardening notes", body="Planting apples in spring", section=1),
            Article(id=2, title="Apples", body="A short history", section=1),
            Article(id=3, title="Pears", body="Nothing about the other fruit", section=1),
        ],
    )
    with Session(engine) as session:
        hits = hybrid_search(session, Article, text="apple")
    assert [hit.item.id for hit in hits] == [2, 1]  # a title (weight A) outranks a body (B); "apple" finds "Apples"
    assert [hit.text_rank for hit in hits] == [1, 2]
    assert all(hit.vector_rank is None for hit in hits)


def test_the_language_is_the_models(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all([Note(id=1, text="apples and pears"), Note(id=2, text="an apple")])
        session.commit()
        assert [hit.item.id for hit in hybrid_search(session, Note, text="apple")] == [2]
        assert [hit.item.id for hit in hybrid_search(session, Note, text="apples")] == [1]


def test_english_stop_words_are_left_out_of_a_query(engine: Engine) -> None:
    _fill(engine, [Article(id=1, title="apple pie", section=1)])
    with Session(engine) as session:
        assert [hit.item.id for hit in hybrid_search(session, Article, text="the apple")] == [1]
        assert hybrid_search(session, Article, text="the and of") == []


def test_soft_deleted_rows_and_filtered_rows_are_left_out_of_both_legs(engine: Engine) -> None:
    _fill(
        engine,
        [
            Article(id=1, title="apples one", section=1, embedding=_vector(1)),
            Article(id=2, title="apples two", section=2, embedding=_vector(2)),
            Article(id=3, title="apples three", section=1, embedding=_vector(3), deleted_at=utc_now()),
        ],
    )
    with Session(engine) as session:
        hits = hybrid_search(session, Article, text="apples", vector=_vector(3), filters=[Article.section == 1])
    assert [hit.item.id for hit in hits] == [1]
    assert (hits[0].text_rank, hits[0].vector_rank) == (1, 1)


def test_the_vector_leg_matches_an_exact_computation(engine: Engine) -> None:
    rows = [Article(id=n, title=f"row {n}", section=n % 3, embedding=_vector(n)) for n in range(1, 201)]
    _fill(engine, rows)
    query = _vector(1000)
    expected = sorted(rows, key=lambda row: (_cosine(row.embedding or [], query), row.id))
    with Session(engine) as session:
        nearest = hybrid_search(session, Article, vector=query, limit=10)
        filtered = hybrid_search(session, Article, vector=query, limit=10, filters=[Article.section == 2])
    assert [hit.item.id for hit in nearest] == [row.id for row in expected[:10]]
    assert [hit.item.id for hit in filtered] == [row.id for row in expected if row.section == 2][:10]
    assert [hit.vector_rank for hit in nearest] == list(range(1, 11))


def test_ranks_are_fused_with_weights(engine: Engine) -> None:
    _fill(
        engine,
        [
            Article(id=1, title="apples", section=1, embedding=_vector(50)),
            Article(id=2, title="apples and apples", body="apples", section=1, embedding=_vector(60)),
        ],
    )
    with Session(engine) as session:
        by_text = hybrid_search(session, Article, text="apples", vector=_vector(50), weights=(10.0, 1.0))
        by_vector = hybrid_search(session, Article, text="apples", vector=_vector(50), weights=(1.0, 10.0))
    assert by_text[0].item.id == next(hit.item.id for hit in by_text if hit.text_rank == 1)
    assert by_vector[0].item.id == 1  # nearest to its own vector
    assert by_vector[0].score == pytest.approx(1 / (60 + by_vector[0].text_rank) + 10 / 61)  # type: ignore[operator]


def test_text_only_results_are_the_same_on_both_dialects(engine: Engine) -> None:
    # Every word must match (stemmed); each occurrence counts its column's weight (title 1.0, body 0.4); ties go
    # by key. The same on both dialects, so the same top 10, in the same order.
    words = ["apple", "pears", "plums", "figs", "kiwi", "lime"]
    generator = random.Random(7)
    rows = [
        Article(id=n, title=" ".join(generator.choices(words, k=2)), body=" ".join(generator.choices(words, k=6)),
                section=1)
        for n in range(1, 61)
    ]  # fmt: skip
    _fill(engine, rows)
    with Session(engine) as session:
        found = [hit.item.id for hit in hybrid_search(session, Article, text="apples plum")]

    def occurrences(text: str | None) -> int:
        return sum(word.startswith(("apple", "plum")) for word in (text or "").split())

    def matches(row: Article) -> bool:
        both = f"{row.title} {row.body}".split()
        return any(w.startswith("apple") for w in both) and any(w.startswith("plum") for w in both)

    scored = [(-(occurrences(row.title) + 0.4 * occurrences(row.body)), row.id) for row in rows if matches(row)]
    assert found == [row_id for _, row_id in sorted(scored)][:10]


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_selective_filter_is_searched_exactly_and_the_settings_are_put_back(engine: Engine) -> None:
    rows = [Article(id=n, title=f"row {n}", section=n % 100, embedding=_vector(n)) for n in range(1, 3001)]
    _fill(engine, rows)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE articles"))
    query = _vector(5000)
    expected = sorted((row for row in rows if row.section == 7), key=lambda row: _cosine(row.embedding or [], query))
    with Session(engine) as session:
        before = session.scalar(text("SHOW hnsw.ef_search"))
        hits = hybrid_search(session, Article, vector=query, limit=10, filters=[Article.section == 7])
        assert session.scalar(text("SHOW enable_indexscan")) == "on"
        assert session.scalar(text("SHOW hnsw.ef_search")) == before
    assert [hit.item.id for hit in hits] == [row.id for row in expected[:10]]
    assert EXACT_ROWS > 30


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
async def test_async_sessions_search_too(engine: Engine) -> None:
    _fill(engine, [Article(id=1, title="apples", section=1, embedding=_vector(1))])
    async_engine = make_async_engine(DatabaseSettings.for_url(engine.url.render_as_string(hide_password=False)))
    try:
        async with AsyncSession(async_engine) as session:
            hits = await hybrid_search_async(session, Article, text="apples", vector=_vector(1))
    finally:
        await async_engine.dispose()
    assert [(hit.item.id, hit.text_rank, hit.vector_rank) for hit in hits] == [(1, 1, 1)]


def test_a_search_without_text_or_vector_is_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(SchemakitError, match="needs text, a vector, or both"):
        hybrid_search(session, Article)


def test_generated_search_vector_and_indexes_exist_on_postgresql(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.scalars(text("SELECT name FROM sqlite_master")))
            assert {"articles_search", "trg_articles_search_insert"} <= names
            assert "idx_articles_search_vector" not in names
            return
        indexes = dict(
            connection.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'articles'")).all()
        )
    assert "USING gin (search_vector)" in indexes["idx_articles_search_vector"]
    assert (
        "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')"
        in indexes["idx_articles_embedding"]
    )
    _fill(engine, [Article(id=1, title="apples", section=1)])
    with engine.connect() as connection:
        assert connection.scalar(select(Article.search_vector)) == "'appl':1A"


SEARCH_ENV = """
from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from schemakit import TYPE_ANNOTATION_MAP, TimestampMixin, UUIDv7PrimaryKeyMixin, make_metadata
from schemakit.migrations import run_migrations
from schemakit.mixins.searchable import SearchableMixin
from schemakit.search import embedding_column


class AppBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Recipe(UUIDv7PrimaryKeyMixin, TimestampMixin, {mixins}AppBase):
    __tablename__ = "recipes"
    {searchable}
    title: Mapped[str] = mapped_column(String(80))
    steps: Mapped[str | None] = mapped_column(Text)
    {embedding}


run_migrations(AppBase.metadata)
"""
PLAIN = {"mixins": "", "searchable": "", "embedding": ""}
SEARCHABLE = {
    "mixins": "SearchableMixin, ",
    "searchable": '__searchable__ = {"title": "A", "steps": "B"}',
    "embedding": "embedding: Mapped[list[float] | None] = embedding_column(4)",
}


def _project(tmp_path: Path, url: str, models: dict[str, str]) -> tuple[Path, Config]:
    project = copy_project(tmp_path / "project")
    for revision in (project / "alembic" / "versions").glob("*.py"):
        revision.unlink()
    (project / "alembic" / "env.py").write_text(SEARCH_ENV.format(**models))
    return project, configure(project, url)


def _drift(config: Config) -> list[str]:
    captured: list[str] = []
    command.revision(with_options(config, capture_revision=captured), autogenerate=True)
    return captured


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_autogenerate_makes_an_existing_table_searchable_in_one_revision_for_both_dialects(
    engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    SearchBase.metadata.drop_all(engine)  # an empty database: the project's models alone
    with engine.begin() as connection:
        connection.execute(text("DROP EXTENSION vector"))  # the revision must install it
    project, config = _project(tmp_path, url, PLAIN)
    command.revision(config, message="recipes", autogenerate=True)
    upgrade(config)
    (project / "alembic" / "env.py").write_text(SEARCH_ENV.format(**SEARCHABLE))
    command.revision(config, message="search recipes", autogenerate=True)
    (written,) = (project / "alembic" / "versions").glob("*search_recipes.py")
    code = written.read_text()
    for expected in (
        "op.create_vector_extension()",
        'search_computed({"title": "A", "steps": "B"})',
        "vector_type(4)",
        'op.create_search_index("recipes", key="id", columns={"title": "A", "steps": "B"})',
        'op.f("idx_recipes_search_vector"), "recipes", ["search_vector"], unique=False, postgresql_using="gin"',
        'postgresql_using="hnsw"',
    ):
        assert expected in code, code
    upgrade(config)
    assert _drift(config) == []
    downgrade(config, "-1")
    upgrade(config)
    assert _drift(config) == []
    # The same revisions on SQLite: the FTS5 table instead of the indexes, and no drift either.
    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    lite_config = configure(project, lite)
    upgrade(lite_config)
    assert _drift(lite_config) == []
    lite_engine = make_engine(DatabaseSettings(database_url=lite, _env_file=None))
    with lite_engine.begin() as connection:
        key = "00000000000000000000000000000001"
        connection.execute(
            text(
                "INSERT INTO recipes (id, title, steps, created_at, updated_at) "
                f"VALUES ('{key}', 'apple pie', 'bake', '2026-01-01', '2026-01-01')"
            )
        )
        assert connection.scalar(text("SELECT key FROM recipes_search WHERE recipes_search MATCH 'apples'")) == key
    downgrade(lite_config, "base")
    with lite_engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    lite_engine.dispose()
