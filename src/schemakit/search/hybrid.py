"""Hybrid search: full text and vector distance in one statement, fused by Reciprocal Rank Fusion.

:func:`hybrid_search` (and :func:`hybrid_search_async`) runs one statement with two legs over the same rows:
the ``candidates`` best by full-text rank (each occurrence of a query word counts its column's weight, read
from ``search_vector`` on PostgreSQL and from the FTS5 table on SQLite: the same rank on both) and the
``candidates`` nearest by vector distance. Both legs apply the caller's filters and, for a soft-deletable
model, leave deleted rows out. Each row's score is
``text_weight / (k + text_rank) + vector_weight / (k + vector_rank)``, ranks fused rather than scores, since the
two live on different scales.

On PostgreSQL the vector leg's plan is chosen for that statement alone (the settings are put back after it):
when the filters keep at most :data:`EXACT_ROWS` rows, the HNSW index would return too few of them, so the leg
compares those rows exactly (``enable_indexscan`` off; an index on the filtered column still finds them);
otherwise it uses the index with ``hnsw.ef_search`` raised to twice the candidates, and pgvector's iterative
scans where the server has them (0.8 and later).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, column, false, func, literal, literal_column, null, select, table, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from schemakit.engine import temporary_settings
from schemakit.errors import SchemakitError
from schemakit.naming import qualified_name, quote_identifier, quote_literal
from schemakit.search.fts import WEIGHT_VALUES, fts_query, fts_table
from schemakit.search.options import embedding_options
from schemakit.search.vectors import DISTANCES, SQLITE_VEC, sqlite_distance

__all__ = ["EXACT_ROWS", "SearchHit", "hybrid_search", "hybrid_search_async"]

#: The most rows the filters may keep for the vector leg to compare them all instead of using the index.
EXACT_ROWS = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class SearchHit(Generic[T]):
    """One result: the model instance, its fused score, and its rank in each leg (``None``: not in that leg)."""

    item: T
    score: float
    text_rank: int | None
    vector_rank: int | None


@dataclass(frozen=True)
class _Query:
    model: Any
    text: str | None
    vector: Sequence[float] | None
    filters: tuple[ColumnElement[bool], ...]
    limit: int
    candidates: int
    weights: tuple[float, float]
    k: int
    embedding: str


def _query(model: Any, **options: Any) -> _Query:
    text, vector = options["text"], options["vector"]
    if not text and vector is None:
        raise SchemakitError("hybrid_search needs text, a vector, or both")
    limit = int(options["limit"])
    return _Query(
        model,
        text or None,
        vector,
        tuple(options["filters"]),
        limit,
        int(options["candidates"] or max(4 * limit, 40)),
        options["weights"],
        int(options["k"]),
        options["embedding"],
    )


def _live(query: _Query) -> list[ColumnElement[bool]]:
    deleted = getattr(query.model, "deleted_at", None)
    return [*query.filters, *([deleted.is_(None)] if deleted is not None else [])]


def _key(model: Any) -> Any:
    (key,) = model.__table__.primary_key.columns
    return getattr(model, key.key)


def _text_leg(query: _Query, dialect: str) -> Select[Any]:
    model, key = query.model, _key(query.model)
    found = model.__table__.info.get("schemakit.searchable")
    if not found:
        raise SchemakitError(f"{model.__name__} is not searchable: give it SearchableMixin and __searchable__")
    if dialect == "postgresql":
        terms = func.websearch_to_tsquery(literal_column(f"{quote_literal(found['language'])}::regconfig"), query.text)
        sql = _PG_WEIGHTED_MATCHES.format(table=model.__table__.name, language=found["language"])
        score: Any = text(sql).bindparams(words=query.text).columns(column("score")).scalar_subquery()
        leg = select(key.label("id")).where(model.search_vector.op("@@")(terms))
    else:
        search = table(fts_table(model.__table__.name), column("key"))
        # highlight() and MATCH take the FTS5 table itself, and highlight() only in the query that matches.
        whole: ColumnElement[Any] = literal_column(quote_identifier(search.name))
        counted = [
            WEIGHT_VALUES[weight] * _sqlite_matches(whole, number)
            for number, weight in enumerate(found["columns"].values(), start=1)
        ]
        wanted = fts_query(query.text or "", found["language"])
        matches = (
            select(search.c.key, sum(counted[1:], counted[0]).label("score"))
            .where(whole.op("MATCH")(wanted) if wanted else false())  # stop words alone match nothing
            .subquery("matches")
        )
        score = matches.c.score
        leg = select(key.label("id")).select_from(model).join(matches, matches.c.key == key)
    order = (score.desc(), key)
    rank = func.row_number().over(order_by=order).label("rank")
    return leg.add_columns(rank).where(*_live(query)).order_by(*order).limit(query.candidates)


# A row's text score, the same on both dialects: each occurrence of a query word counts the weight of the column
# it is in (A 1.0, B 0.4, C 0.2, D 0.1). PostgreSQL reads the occurrences from search_vector, whose positions
# carry their column's weight; SQLite counts the marks highlight() puts around each match in each column.
_PG_WEIGHTED_MATCHES = """SELECT coalesce(sum(CASE w WHEN 'A' THEN 1.0 WHEN 'B' THEN 0.4 WHEN 'C' THEN 0.2
                                           ELSE 0.1 END), 0)
    FROM unnest("{table}".search_vector) AS u(lexeme, positions, weights), unnest(u.weights) AS w
    WHERE u.lexeme = ANY (tsvector_to_array(to_tsvector('{language}'::regconfig, :words)))"""


def _sqlite_matches(table: ColumnElement[Any], column_number: int) -> ColumnElement[Any]:
    marked = func.highlight(table, column_number, "\x01", "")
    return func.length(marked) - func.length(func.replace(marked, "\x01", ""))


def _vector_leg(query: _Query, dialect: str, *, sqlite_vec: bool = False) -> Select[Any]:
    model, key = query.model, _key(query.model)
    column = getattr(model, query.embedding)
    options = embedding_options(column.property.columns[0]) or {"distance": "cosine"}
    operator, _, sqlite_function = DISTANCES[options["distance"]]
    vector = [float(value) for value in query.vector or ()]
    if dialect == "postgresql":
        distance = column.op(operator, return_type=column.type)(vector)
    elif sqlite_vec and sqlite_function is not None:
        distance = getattr(func, sqlite_function)(column, json.dumps(vector))
    else:
        reference = qualified_name(column.property.columns[0].name, model.__table__.name)
        distance = literal_column(sqlite_distance(reference, vector, options["distance"]))
    order = (distance, key)
    rank = func.row_number().over(order_by=order).label("rank")
    return (
        select(key.label("id"), rank).where(column.is_not(None), *_live(query)).order_by(*order).limit(query.candidates)
    )


def _statement(query: _Query, dialect: str, *, sqlite_vec: bool = False) -> Select[Any]:
    text_weight, vector_weight = query.weights
    parts = []
    if query.text:
        leg = _text_leg(query, dialect).cte("text_leg")
        share = literal(float(text_weight)) / (literal(query.k) + leg.c.rank)
        parts.append(select(leg.c.id, share.label("score"), leg.c.rank.label("text_rank"), null().label("vector_rank")))
    if query.vector is not None:
        leg = _vector_leg(query, dialect, sqlite_vec=sqlite_vec).cte("vector_leg")
        share = literal(float(vector_weight)) / (literal(query.k) + leg.c.rank)
        parts.append(select(leg.c.id, share.label("score"), null().label("text_rank"), leg.c.rank.label("vector_rank")))
    both = union_all(*parts).subquery("both_legs") if len(parts) > 1 else parts[0].subquery("both_legs")
    fused = (
        select(
            both.c.id,
            func.sum(both.c.score).label("score"),
            func.max(both.c.text_rank).label("text_rank"),
            func.max(both.c.vector_rank).label("vector_rank"),
        )
        .group_by(both.c.id)
        .subquery("fused")
    )
    key = _key(query.model)
    return (
        select(query.model, fused.c.score, fused.c.text_rank, fused.c.vector_rank)
        .join(fused, key == fused.c.id)
        .order_by(fused.c.score.desc(), key)
        .limit(query.limit)
    )


def _count_filtered(query: _Query) -> Select[Any]:
    kept = select(literal(1)).select_from(query.model).where(*_live(query)).limit(EXACT_ROWS + 1).subquery()
    return select(func.count()).select_from(kept)


def _settings(query: _Query, filtered: int | None) -> dict[str, str]:
    """The vector leg's settings for one statement (PostgreSQL)."""
    if filtered is not None and filtered <= EXACT_ROWS:
        return {"enable_indexscan": "off"}
    return {"hnsw.ef_search": str(min(1000, max(40, 2 * query.candidates)))}


def _hits(rows: Sequence[Any]) -> list[SearchHit[Any]]:
    return [SearchHit(row[0], float(row[1]), row[2], row[3]) for row in rows]


def hybrid_search(
    session: Session,
    model: type[T],
    *,
    text: str | None = None,
    vector: Sequence[float] | None = None,
    filters: Sequence[ColumnElement[bool]] = (),
    limit: int = 10,
    candidates: int | None = None,
    weights: tuple[float, float] = (1.0, 1.0),
    k: int = 60,
    embedding: str = "embedding",
) -> list[SearchHit[T]]:
    """Search ``model`` by ``text`` and/or ``vector`` in one statement; the ``limit`` best, fused.

    Args:
        session: The session to search in.
        model: A model with :class:`~schemakit.mixins.searchable.SearchableMixin` (for ``text``) and an
            :func:`~schemakit.search.vectors.embedding_column` named ``embedding`` (for ``vector``).
        text: The words to find (every word must match), as a person types them.
        vector: The query embedding.
        filters: Conditions on the model applied in both legs.
        limit: How many results.
        candidates: How many each leg contributes before fusion (default: four times ``limit``, at least 40).
        weights: The text leg's and the vector leg's weights in the fusion.
        k: Reciprocal Rank Fusion's constant.
        embedding: The embedding column's attribute name.

    Raises:
        SchemakitError: Without text and vector, or on a model that cannot be searched that way.
    """
    query = _query(model, text=text, vector=vector, filters=filters, limit=limit, candidates=candidates,
                   weights=weights, k=k, embedding=embedding)  # fmt: skip
    dialect = session.get_bind().dialect.name
    sqlite_vec = dialect == "sqlite" and bool(session.connection().connection.info.get(SQLITE_VEC))
    statement = _statement(query, dialect, sqlite_vec=sqlite_vec)
    if dialect != "postgresql" or vector is None:
        return _hits(session.execute(statement).all())
    filtered = session.scalar(_count_filtered(query)) if _live(query) else None
    # The connection the statement runs on (a routing session may send it to a replica), for this statement only.
    connection = session.connection(bind_arguments={"clause": statement})
    with temporary_settings(connection, _settings(query, filtered), local=True):
        return _hits(session.execute(statement).all())


async def hybrid_search_async(
    session: AsyncSession,
    model: type[T],
    *,
    text: str | None = None,
    vector: Sequence[float] | None = None,
    filters: Sequence[ColumnElement[bool]] = (),
    limit: int = 10,
    candidates: int | None = None,
    weights: tuple[float, float] = (1.0, 1.0),
    k: int = 60,
    embedding: str = "embedding",
) -> list[SearchHit[T]]:
    """:func:`hybrid_search` on an :class:`~sqlalchemy.ext.asyncio.AsyncSession`."""
    return await session.run_sync(
        hybrid_search, model, text=text, vector=vector, filters=filters, limit=limit, candidates=candidates,
        weights=weights, k=k, embedding=embedding,
    )  # fmt: skip
