"""Embedding columns: pgvector's ``vector`` with an HNSW index on PostgreSQL, JSON searched by sqlite-vec on SQLite.

:func:`embedding_column` declares one::

    embedding: Mapped[list[float] | None] = embedding_column(384)

The column's table gets an HNSW index named by the convention (``idx_products_embedding``), built with the
operator class of the distance (``cosine``, ``l2`` or ``inner_product``) and the build parameters given. The
index is PostgreSQL's alone; SQLite compares every row, with sqlite-vec where it loads and in plain SQL over the
JSON arrays otherwise, which suits local work and tests.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, event
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeEngine

from schemakit.errors import SchemakitError
from schemakit.search.options import EMBEDDING, POSTGRESQL_ONLY

__all__ = [
    "DISTANCES",
    "SQLITE_VEC",
    "embedding_column",
    "load_sqlite_vec",
    "sqlite_distance",
]

#: The connection ``info`` key set where sqlite-vec is loaded.
SQLITE_VEC = "schemakit.sqlite_vec"
#: Each distance's pgvector operator, its operator class, and sqlite-vec's function.
DISTANCES = {
    "cosine": ("<=>", "vector_cosine_ops", "vec_distance_cosine"),
    "l2": ("<->", "vector_l2_ops", "vec_distance_l2"),
    "inner_product": ("<#>", "vector_ip_ops", None),
}
_loading = False


def embedding_column(
    dimensions: int, *, distance: str = "cosine", m: int = 16, ef_construction: int = 64, nullable: bool = True
) -> MappedColumn[Any]:
    """A ``vector(dimensions)`` column with an HNSW index for ``distance`` (``m``, ``ef_construction``).

    Raises:
        SchemakitError: For an unknown distance.
    """
    if distance not in DISTANCES:
        raise SchemakitError(f"unknown distance {distance!r}: use one of {', '.join(DISTANCES)}")
    info = {EMBEDDING: {"distance": distance, "m": m, "ef_construction": ef_construction}}
    column = mapped_column(vector_type(dimensions), nullable=nullable, info=info)
    event.listen(column.column, "after_parent_attach", _index)
    _load_sqlite_vec_on_connect()
    return column


def vector_type(dimensions: int) -> TypeEngine[Any]:
    """The type of an embedding column: pgvector's ``vector(dimensions)``, JSON on SQLite.

    Raises:
        SchemakitError: Without pgvector-python installed.
    """
    try:
        from pgvector.sqlalchemy import Vector  # noqa: PLC0415 - an optional dependency
    except ImportError:
        raise SchemakitError("embedding columns need pgvector: pip install 'schemakit[search]'") from None
    vector: TypeEngine[Any] = Vector(dimensions)
    return vector.with_variant(JSON(), "sqlite")


def _index(column: Column[Any], table: Any) -> None:
    options = column.info.get(EMBEDDING)
    if not options or not isinstance(table, Table):
        return
    _, opclass, _ = DISTANCES[options["distance"]]
    Index(
        None,
        column,
        postgresql_using="hnsw",
        postgresql_with={"m": options["m"], "ef_construction": options["ef_construction"]},
        postgresql_ops={column.name: opclass},
        info={POSTGRESQL_ONLY: True},
    ).ddl_if(dialect="postgresql")


def load_sqlite_vec(dbapi_connection: Any) -> bool:
    """Load sqlite-vec into a SQLite connection; whether it could be (it is an optional dependency)."""
    try:
        import sqlite_vec  # noqa: PLC0415 - an optional dependency
    except ImportError:
        return False
    # aiosqlite's connection lives in its own thread, and some Pythons build sqlite3 without extensions.
    if not isinstance(dbapi_connection, sqlite3.Connection) or not hasattr(dbapi_connection, "enable_load_extension"):
        return False
    dbapi_connection.enable_load_extension(True)
    try:
        sqlite_vec.load(dbapi_connection)
    finally:
        dbapi_connection.enable_load_extension(False)
    return True


def _on_connect(dbapi_connection: Any, record: Any) -> None:
    if load_sqlite_vec(dbapi_connection):
        record.info[SQLITE_VEC] = True


def _load_sqlite_vec_on_connect() -> None:
    # Installed by the first embedding column, never by importing schemakit.
    global _loading  # noqa: PLW0603 - one listener a process
    if not _loading:
        event.listen(Pool, "connect", _on_connect)
        _loading = True


def sqlite_distance(column: str, vector: list[float], distance: str) -> str:
    """SQL for ``distance`` between a JSON array column and ``vector``, in plain SQLite (no sqlite-vec)."""
    query = json.dumps([float(value) for value in vector])
    pairs = f"json_each({column}) AS a JOIN json_each('{query}') AS b ON a.key = b.key"
    if distance == "l2":
        return f"sqrt((SELECT sum((a.value - b.value) * (a.value - b.value)) FROM {pairs}))"
    if distance != "cosine":
        raise SchemakitError(f"SQLite has no {distance} distance; use cosine or l2")
    norm = math.sqrt(sum(float(value) ** 2 for value in vector)) or 1.0
    return (
        f"(1.0 - (SELECT sum(a.value * b.value) FROM {pairs}) "
        f"/ (sqrt((SELECT sum(a.value * a.value) FROM json_each({column}) AS a)) * {norm!r}))"
    )
