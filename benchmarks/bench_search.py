"""Hybrid search's recall and latency against exact search, on PostgreSQL with pgvector.

100,000 rows (quick: 10,000) of generated text with 384-dimension embeddings made deterministically: each word
of a 2,000-word vocabulary gets a fixed random vector, a row's embedding is the sum of its words' (random
projections of hashed tokens, no model download). 200 queries of three words, each with a filter that keeps 1 %
of the rows (``section = n`` of 100 sections, B-tree indexed). Reported:

* recall@10 of the vector leg and of the fused result, against exact search (a sequential scan over the
  filtered rows, and the fusion of exact legs);
* latency of ``hybrid_search`` (text and vector, filtered): median and p95;
* the same without a filter, where the HNSW index serves the vector leg (``hnsw.ef_search`` raised);
* on the quick size, how often the text-only top 10 is the same list on PostgreSQL and SQLite.

Goals: recall@10 at least 0.95 with the 1 % filter, p95 at most 50 ms for 100,000 rows.

    python -m benchmarks.bench_search [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, String, Text, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from benchmarks.common import Measurement, header, save, table
from schemakit import TYPE_ANNOTATION_MAP, DatabaseSettings, make_engine, make_metadata
from schemakit.mixins.searchable import SearchableMixin
from schemakit.provisioning import PostgresDatabases
from schemakit.provisioning.vector import provide_vector_postgres
from schemakit.search import embedding_column, hybrid_search

HEADLINE = ("rows", "recall_at_10_vector", "recall_at_10_fused", "p50_ms", "p95_ms")
DIMENSIONS = 384
VOCABULARY = 2000
SECTIONS = 100
QUERIES = 200


class SearchBenchBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Document(SearchableMixin, SearchBenchBase):
    __tablename__ = "documents"
    __searchable__: ClassVar[dict[str, str]] = {"title": "A", "body": "B"}
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    section: Mapped[int] = mapped_column(index=True)
    embedding: Mapped[list[float] | None] = embedding_column(DIMENSIONS)


def word(number: int) -> str:
    """A pronounceable made-up word, the same for the same number."""
    syllables = ["ka", "lo", "mi", "ren", "sa", "tu", "vel", "zor", "pa", "qui", "nor", "bel"]
    out, n = [], number + 1
    while n:
        n, digit = divmod(n, len(syllables))
        out.append(syllables[digit])
    return "".join(out)


def fill(engine: Engine, rows: int) -> None:
    """The rows and their embeddings, generated in the database (words' vectors from a fixed seed)."""
    with engine.begin() as connection:
        # Built once the rows are in: an HNSW graph grown row by row takes many times longer.
        connection.execute(text("DROP INDEX idx_documents_embedding"))
        connection.execute(text("SELECT setseed(0.42)"))
        connection.execute(
            text(
                "CREATE TABLE words AS SELECT n, (SELECT array_agg(random() - 0.5) "
                f"FROM generate_series(1, {DIMENSIONS}) WHERE n > 0)::vector AS vec "
                "FROM generate_series(0, :vocabulary - 1) AS n"
            ),
            {"vocabulary": VOCABULARY},
        )
        connection.execute(
            text(
                "CREATE TABLE picks AS SELECT i, (SELECT array_agg(floor(power(random(), 2) * :vocabulary)::int) "
                "FROM generate_series(1, 12) WHERE i > 0) AS ids FROM generate_series(1, :rows) AS i"
            ),
            {"vocabulary": VOCABULARY, "rows": rows},
        )
        names = ", ".join(f"({n}, '{word(n)}')" for n in range(VOCABULARY))
        connection.execute(text(f"CREATE TABLE names (n int PRIMARY KEY, w text); INSERT INTO names VALUES {names}"))
        connection.execute(
            text(
                "INSERT INTO documents (id, title, body, section, embedding) "
                "SELECT p.i, (SELECT string_agg(w, ' ') FROM names WHERE n = ANY (p.ids[1:3])), "
                "(SELECT string_agg(x.w, ' ') FROM unnest(p.ids) AS u(n) JOIN names AS x USING (n)), "
                "p.i % :sections, (SELECT sum(v.vec) FROM unnest(p.ids) AS u(n) JOIN words AS v USING (n)) "
                "FROM picks AS p"
            ),
            {"sections": SECTIONS},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SET maintenance_work_mem = '1GB'"))
        connection.execute(
            text(
                "CREATE INDEX idx_documents_embedding ON documents USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
        )
        connection.execute(text("VACUUM ANALYZE documents"))


def queries(engine: Engine) -> list[tuple[str, list[float], int]]:
    generator = random.Random(11)
    found = []
    with engine.connect() as connection:
        for _ in range(QUERIES):
            ids = [int(generator.random() ** 2 * VOCABULARY) for _ in range(3)]
            vector = connection.scalar(text("SELECT sum(vec)::text FROM words WHERE n = ANY (:ids)"), {"ids": ids})
            values = [float(value) for value in str(vector).strip("[]").split(",")]
            found.append((" ".join(word(n) for n in ids[:2]), values, generator.randrange(SECTIONS)))
    return found


def exact(session: Session, query: tuple[str, list[float], int], *, filtered: bool) -> tuple[list[int], list[int]]:
    """The exact vector top 10 (sequential scan) and the fusion of exact legs."""
    words, vector, section = query
    session.execute(text("SET LOCAL enable_indexscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    filters = [Document.section == section] if filtered else []
    nearest = [hit.item.id for hit in hybrid_search(session, Document, vector=vector, filters=filters)]
    fused = [hit.item.id for hit in hybrid_search(session, Document, text=words, vector=vector, filters=filters)]
    session.rollback()
    return nearest, fused


def recall(found: list[int], expected: list[int]) -> float:
    return len(set(found) & set(expected)) / max(len(expected), 1)


def run_case(engine: Engine, workload: list[tuple[str, list[float], int]], *, filtered: bool) -> dict[str, Any]:
    vector_recalls, fused_recalls, latencies = [], [], []
    with Session(engine) as session:
        for query in workload:
            words, vector, section = query
            filters = [Document.section == section] if filtered else []
            started = time.perf_counter()
            fused = [
                hit.item.id for hit in hybrid_search(session, Document, text=words, vector=vector, filters=filters)
            ]
            latencies.append(time.perf_counter() - started)
            nearest = [hit.item.id for hit in hybrid_search(session, Document, vector=vector, filters=filters)]
            session.rollback()
            exact_nearest, exact_fused = exact(session, query, filtered=filtered)
            vector_recalls.append(recall(nearest, exact_nearest))
            fused_recalls.append(recall(fused, exact_fused))
    ordered = sorted(latencies)
    return {
        "recall_at_10_vector": round(statistics.mean(vector_recalls), 4),
        "recall_at_10_fused": round(statistics.mean(fused_recalls), 4),
        "latencies": latencies,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
    }


def text_agreement_with_sqlite(engine: Engine, workload: list[tuple[str, list[float], int]]) -> dict[str, float]:
    """How often the text-only top 10 of PostgreSQL and of a SQLite copy of the same rows are the same list."""
    with tempfile.TemporaryDirectory() as folder:
        lite = make_engine(DatabaseSettings(database_url=f"sqlite:///{Path(folder) / 'search.db'}", _env_file=None))
        SearchBenchBase.metadata.create_all(lite)
        with engine.connect() as source, Session(lite) as target:
            for row in source.execute(select(Document.id, Document.title, Document.body, Document.section)):
                target.add(Document(id=row.id, title=row.title, body=row.body, section=row.section))
            target.commit()
        same, found = 0, 0
        with Session(engine) as session, Session(lite) as other:
            for words, _, _ in workload:
                here = [hit.item.id for hit in hybrid_search(session, Document, text=words)]
                there = [hit.item.id for hit in hybrid_search(other, Document, text=words)]
                same += here == there
                found += bool(here)
        lite.dispose()
    return {"identical_top10": round(same / len(workload), 4), "queries_with_matches": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    arguments = parser.parse_args()
    rows = 10_000 if arguments.quick else 100_000
    with provide_vector_postgres() as server:
        print(header(f"Hybrid search on {rows:,} rows of {DIMENSIONS} dimensions", server), flush=True)
        databases = PostgresDatabases(server.url, "bench_search_test")
        database = databases.create_empty("search")
        engine = make_engine(database.settings)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            SearchBenchBase.metadata.create_all(engine)
            started = time.perf_counter()
            fill(engine, rows)
            print(f"filled and indexed in {time.perf_counter() - started:.1f} s", flush=True)
            workload = queries(engine)
            filtered = run_case(engine, workload, filtered=True)
            unfiltered = run_case(engine, workload, filtered=False)
            agreement = text_agreement_with_sqlite(engine, workload) if arguments.quick else None
            with engine.connect() as connection:
                assert connection.scalar(select(func.count()).select_from(Document)) == rows
        finally:
            engine.dispose()
            databases.drop(database)
    measurements = [
        Measurement("hybrid search, 1 % filter", filtered.pop("latencies")),
        Measurement("hybrid search, no filter (HNSW)", unfiltered.pop("latencies")),
    ]
    print(table(measurements, unit="ms", scale=1000.0))
    print(f"\nwith the 1 % filter: {filtered}")
    print(f"without a filter:    {unfiltered}")
    if agreement is not None:
        print(f"text-only top 10 identical on PostgreSQL and SQLite: {agreement}")
    print("goals: recall@10 at least 0.95 with the 1 % filter, p95 at most 50 ms for 100,000 rows")
    path = save(
        "search",
        f"Hybrid search on {rows:,} rows",
        measurements,
        quick=arguments.quick,
        rows=rows,
        **filtered,
        unfiltered=unfiltered,
        text_only_against_sqlite=agreement,
    )
    # The headline figures at the top level too, where tools reading the results look for them.
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**{key: data["context"][key] for key in HEADLINE}, **data}, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
