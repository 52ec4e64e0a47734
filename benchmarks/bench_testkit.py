"""The test kit's costs on PostgreSQL: isolating a test, and getting a migrated database.

1. Per-test isolation: a "test" opens a session, inserts a row, commits and is cleaned up. Compared:
   savepoint isolation (``db_session``: an outer transaction rolled back), truncating the tables after each
   test, and a fresh clone of the template per test (``db_committed``). The baseline is the same work with a
   plain commit and no clean-up at all.
2. A migrated database: cloning the template (``CREATE DATABASE ... TEMPLATE``) versus creating an empty
   database and running every migration.

    python -m benchmarks.bench_testkit [--quick]
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

import example_app.models  # noqa: F401 - the models the template's migrations create
from benchmarks.common import Measurement, header, postgres, repeat, save, table
from example_app.models import User
from schemakit import Session, make_engine
from schemakit.testing.databases import PostgresTestDatabases, TestDatabase, migrate

ROOT = Path(__file__).parent.parent


def one_test(session: Session) -> None:
    """The work of a typical small database test."""
    session.add(User(email=f"{uuid.uuid4().hex}@example.test", display_name="Bench"))
    session.commit()


def per_test_costs(databases: PostgresTestDatabases, database: TestDatabase, tests: int) -> list[Measurement]:
    """Time one test under each way of cleaning up after it."""
    engine: Engine = make_engine(database.settings)

    def no_cleanup() -> None:
        with Session(engine) as session:
            one_test(session)

    def savepoint() -> None:
        with engine.connect() as connection:
            outer = connection.begin()
            with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
                one_test(session)
            outer.rollback()

    def truncate() -> None:
        no_cleanup()
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE order_items, orders, products, users CASCADE"))

    def fresh_clone() -> None:
        clone = databases.clone(f"bench_{uuid.uuid4().hex[:8]}")
        clone_engine = create_engine(clone.url, poolclass=NullPool)
        with Session(clone_engine) as session:
            one_test(session)
        clone_engine.dispose()
        databases.drop(clone)

    measurements = [
        Measurement("plain commit, no clean-up", repeat(no_cleanup, tests)),
        Measurement("savepoint isolation", repeat(savepoint, tests), baseline="plain commit, no clean-up"),
        Measurement("truncate after each test", repeat(truncate, tests), baseline="plain commit, no clean-up"),
        Measurement(
            "fresh clone per test", repeat(fresh_clone, max(5, tests // 20)), baseline="plain commit, no clean-up"
        ),
    ]
    engine.dispose()
    return measurements


def database_costs(databases: PostgresTestDatabases, runs: int) -> list[Measurement]:
    """Time getting a migrated database: migrating an empty one, or cloning the template."""
    migrated: list[TestDatabase] = []

    def migrate_fresh() -> None:
        migrated.append(databases.create_empty(f"bench_{uuid.uuid4().hex[:8]}"))
        migrate(databases.alembic_ini, migrated[-1].url)

    clones: list[TestDatabase] = []
    measurements = [
        Measurement("create + migrate to head", repeat(migrate_fresh, runs)),
        Measurement(
            "clone the template",
            repeat(lambda: clones.append(databases.clone(f"bench_{uuid.uuid4().hex[:8]}")), runs),
            baseline="create + migrate to head",
        ),
    ]
    for database in clones + migrated:
        databases.drop(database)
    return measurements


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    arguments = parser.parse_args()
    tests, runs = (100, 5) if arguments.quick else (500, 15)
    title = "Test kit: per-test isolation and migrated databases (PostgreSQL)"
    with postgres() as server:
        print(header(title, server))
        databases = PostgresTestDatabases(server.url, "bench", ROOT / "alembic.ini")
        databases.ensure_template()
        database = databases.clone("bench_main")
        isolation = per_test_costs(databases, database, tests)
        print(f"\n## One test (insert and commit a row), median of {tests} runs\n{table(isolation)}")
        databases_ = database_costs(databases, runs)
        print(f"\n## A migrated database, median of {runs} runs\n{table(databases_)}")
        databases.drop(database)
    path = save("testkit", title, isolation + databases_, quick=arguments.quick)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
