"""``alembic upgrade head`` over generated histories of 10, 50 and 200 revisions: schemakit's env against a plain one.

schemakit's environment adds an advisory lock, the checksum ledger, migration timeouts and the environment
marker to what a plain Alembic env.py does. Each run migrates a fresh PostgreSQL database, in this process
(``alembic.command.upgrade``) and through the ``alembic`` command in a process of its own, where importing
schemakit counts; 21, 11 and 7 interleaved rounds. Goal: at most 1.15x at every size, both ways. Through the
command, a third env, the plain one importing pydantic-settings (which schemakit's settings use, as many
applications' do), shows what schemakit costs beyond that import.

    python -m benchmarks.bench_migrations [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL

from benchmarks.common import ALEMBIC_LOGGING, Measurement, header, pair_rounds, postgres, save, table, timed
from schemakit import DatabaseSettings
from schemakit.migrations import make_config
from schemakit.testing.databases import PostgresTestDatabases

ROOT = Path(__file__).parent.parent

SCHEMAKIT_ENV = """
from sqlalchemy import MetaData
from schemakit.migrations import run_migrations

run_migrations(MetaData())
"""

PLAIN_ENV = """
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)
engine = create_engine(context.config.attributes.get("url") or os.environ["PLAIN_URL"], poolclass=NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=MetaData(), transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


# The plain env of an application whose settings use pydantic-settings, as schemakit's do: through the
# command, it shows what schemakit's env costs beyond importing pydantic-settings.
PYDANTIC_SETTINGS_ENV = "import pydantic_settings\n" + PLAIN_ENV

ENVS = {"plain": PLAIN_ENV, "schemakit": SCHEMAKIT_ENV, "pydantic-settings": PYDANTIC_SETTINGS_ENV}
NAMES = {
    "plain": "plain Alembic env",
    "schemakit": "schemakit env",
    "pydantic-settings": "plain Alembic env importing pydantic-settings",
}


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
    ini.write_text(f"[alembic]\nscript_location = {folder}\n{ALEMBIC_LOGGING}")
    return ini


def _cli(ini: Path, url: URL, kind: str) -> None:
    # The plain envs read their URL from PLAIN_URL, schemakit's from DATABASE_URL.
    environment = {**os.environ, "APP_ENV": "test"}
    environment["DATABASE_URL" if kind == "schemakit" else "PLAIN_URL"] = url.render_as_string(hide_password=False)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "-c", str(ini), "upgrade", "head"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"alembic upgrade head ({kind}) failed:\n{done.stderr[-3000:]}")


def _in_process(ini: Path, url: URL, kind: str) -> None:
    if kind != "schemakit":
        config = Config(str(ini))
        config.attributes["url"] = url
    else:
        settings = DatabaseSettings(database_url=url.render_as_string(hide_password=False), app_env="test")
        config = make_config(ini, settings=settings)
    command.upgrade(config, "head")


WAYS = {"in-process": _in_process, "alembic command": _cli}
#: The envs each way compares; in this process pydantic-settings is imported already.
KINDS = {"in-process": ("plain", "schemakit"), "alembic command": ("plain", "pydantic-settings", "schemakit")}


def measure(server_url: URL, work: Path, revisions: int, repeats: int) -> list[Measurement]:
    """The envs, both ways, on ``revisions`` revisions; each run on a fresh database."""
    inis = {kind: history(work / f"{kind}_{revisions}", env, revisions) for kind, env in ENVS.items()}
    databases = PostgresTestDatabases(server_url, "bench_migrations", inis["plain"])
    samples: dict[tuple[str, str], list[float]] = {}
    for round_ in range(repeats + 1):  # the first round warms both up and is not counted
        for way, run in WAYS.items():
            kinds = KINDS[way]
            for kind in kinds if round_ % 2 else reversed(kinds):
                database = databases.create_empty(uuid.uuid4().hex[:8])
                seconds = timed(partial(run, inis[kind], database.url, kind))
                databases.drop(database)
                if round_:
                    samples.setdefault((way, kind), []).append(seconds)
    measurements = []
    for way, kinds in KINDS.items():
        baseline = f"{revisions} revisions, {way}: {NAMES['plain']}"
        for kind in kinds:
            measurements.append(
                Measurement(
                    f"{revisions} revisions, {way}: {NAMES[kind]}",
                    samples[way, kind],
                    baseline=baseline if kind == "schemakit" else None,
                    extra={"revisions": revisions, "way": way, "env": kind},
                )
            )
    return measurements


def beyond_pydantic_settings(results: Iterable[tuple[dict[str, Any], float]]) -> dict[int, float]:
    """Per history size, schemakit's env through the command against the plain env importing pydantic-settings.

    Args:
        results: Each measurement's ``extra`` and median, from this run or from its saved file.
    """
    through_command = [(extra, median) for extra, median in results if extra["way"] == "alembic command"]
    medians = {(extra["revisions"], extra["env"]): median for extra, median in through_command}
    return {
        size: round(median / medians[size, "pydantic-settings"], 4)
        for (size, env), median in medians.items()
        if env == "schemakit"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    arguments = parser.parse_args()
    # Small histories run fast and vary most from run to run (a few milliseconds of the machine's mood are
    # a large share of 100 ms), so they get more runs.
    repeats = {10: 3, 50: 3} if arguments.quick else {10: 21, 50: 11, 200: 7}
    title = "alembic upgrade head: schemakit's env against a plain one (PostgreSQL)"
    with postgres() as server, tempfile.TemporaryDirectory() as work:
        print(header(title, server))
        measurements = [m for size, runs in repeats.items() for m in measure(server.url, Path(work), size, runs)]
    pair_rounds(measurements)
    runs = " / ".join(f"{runs} ({size} revisions)" for size, runs in repeats.items())
    print(f"\n## Median of {runs} runs\n{table(measurements)}")
    paired = [f"{m.name}: {m.extra['paired_ratio']:.2f}x" for m in measurements if "paired_ratio" in m.extra]
    print("median of the rounds' own ratios:\n  " + "\n  ".join(paired))
    print("schemakit env against the plain env importing pydantic-settings:")
    for size, ratio in beyond_pydantic_settings((m.extra, m.median) for m in measurements).items():
        print(f"  {size} revisions, alembic command: {ratio:.2f}x")
    path = save("migrations", title, measurements, quick=arguments.quick)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
