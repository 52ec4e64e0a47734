"""``alembic upgrade head`` over a generated history of 50 revisions: schemakit's env against a plain one.

schemakit's environment adds an advisory lock, the checksum ledger, migration timeouts and the environment
marker to what a plain Alembic env.py does. Each run migrates a fresh PostgreSQL database. Goal: at most 1.15x.

    python -m benchmarks.bench_migrations [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import uuid
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from benchmarks.common import Measurement, header, postgres, repeat, save, table
from schemakit import DatabaseSettings
from schemakit.migrations import make_config
from schemakit.testing.databases import PostgresTestDatabases, TestDatabase

ROOT = Path(__file__).parent.parent

SCHEMAKIT_ENV = """
from sqlalchemy import MetaData
from schemakit.migrations import run_migrations

run_migrations(MetaData())
"""

PLAIN_ENV = """
from alembic import context
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

engine = create_engine(context.config.attributes["url"], poolclass=NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=MetaData(), transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


def history(folder: Path, env: str, revisions: int) -> Path:
    """A project whose revisions each create one table."""
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(env)
    previous = None
    for number in range(revisions):
        revision = f"r{number:04}"
        body = f"""
            from alembic import op
            import sqlalchemy as sa

            revision = {revision!r}
            down_revision = {previous!r}
            branch_labels = None
            depends_on = None


            def upgrade():
                op.create_table("t{number}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text))


            def downgrade():
                op.drop_table("t{number}")
        """
        (folder / "versions" / f"{20260101000000 + number}_t{number}.py").write_text(textwrap.dedent(body))
        previous = revision
    ini = folder / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {folder}\n")
    return ini


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    arguments = parser.parse_args()
    revisions, repeats = 50, (3 if arguments.quick else 7)
    title = f"alembic upgrade head, {revisions} revisions (PostgreSQL)"
    with postgres() as server, tempfile.TemporaryDirectory() as work:
        print(header(title, server))
        plain_ini = history(Path(work) / "plain", PLAIN_ENV, revisions)
        schemakit_ini = history(Path(work) / "schemakit", SCHEMAKIT_ENV, revisions)
        databases = PostgresTestDatabases(server.url, "bench_migrations", plain_ini)
        made: list[TestDatabase] = []

        def fresh() -> URL:
            made.append(databases.create_empty(uuid.uuid4().hex[:8]))
            return made[-1].url

        configs: dict[str, Config] = {}

        def prepare(kind: str) -> None:
            url = fresh()
            if kind == "plain":
                configs[kind] = Config(str(plain_ini))
                configs[kind].attributes["url"] = url
            else:
                settings = DatabaseSettings(database_url=url.render_as_string(hide_password=False), app_env="test")
                configs[kind] = make_config(schemakit_ini, settings=settings)

        samples: dict[str, list[float]] = {"plain": [], "schemakit": []}
        for round_ in range(repeats + 1):  # the first round warms both up and is not counted
            for kind in ("plain", "schemakit") if round_ % 2 else ("schemakit", "plain"):
                timed = repeat(
                    lambda kind=kind: command.upgrade(configs[kind], "head"), 1, setup=lambda kind=kind: prepare(kind)
                )
                if round_:
                    samples[kind].extend(timed)
        measurements = [
            Measurement("plain Alembic env", samples["plain"]),
            Measurement(
                "schemakit env (lock, checksums, timeouts)", samples["schemakit"], baseline="plain Alembic env"
            ),
        ]
        for database in made:
            databases.drop(database)
    print(f"\n## Median of {repeats} runs\n{table(measurements)}")
    path = save("migrations", title, measurements, quick=arguments.quick, revisions=revisions)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
