"""``schemakit check`` against pytest-alembic on generated histories of 10 to 200 revisions (PostgreSQL).

Each revision adds a table with schemakit's mixins, a foreign key to the previous table and its index, so the
history is clean: every gate runs to the end and finds nothing (the benchmark fails if one finds anything).
pytest-alembic runs its up/down consistency and model-definitions tests, the narrower pair, on the same
history through the same ``env.py``. Both run as the commands a CI job runs, in separate processes, cases
interleaved. Goals: the time per added revision flat within 20 % from 10 to 200 revisions, and 200 revisions
in at most 1.0x pytest-alembic's time.

    python -m benchmarks.bench_check [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from functools import partial
from itertools import pairwise
from pathlib import Path

from benchmarks.common import ALEMBIC_LOGGING, Measurement, header, postgres, save, table, timed

ROOT = Path(__file__).parent.parent

ENV = """
import models  # noqa: F401
from schemakit import Base
from schemakit.migrations import run_migrations

run_migrations(Base.metadata)
"""

CONFTEST = """
import pytest
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401
from schemakit import make_engine
from schemakit.provisioning import throwaway_database


@pytest.fixture
def alembic_config():
    return {"file": "alembic.ini"}


@pytest.fixture
def alembic_engine():
    with throwaway_database("postgresql", "bench_check") as database:
        engine = make_engine(database.settings, pool=False)
        yield engine
        engine.dispose()
"""

INI = (
    """
[alembic]
script_location = %(here)s/alembic
prepend_sys_path = %(here)s
path_separator = os
"""
    + ALEMBIC_LOGGING
)

TESTS = """
from pytest_alembic.tests import test_model_definitions_match_ddl, test_up_down_consistency  # noqa: F401
"""


def _table(number: int) -> str:
    return f"t{number:04}_items"


def _model(number: int) -> str:
    parent = (
        f'mapped_column(ForeignKey("{_table(number - 1)}.id", ondelete="CASCADE"), index=True)'
        if number
        else "mapped_column()"
    )
    return f"""

        class Item{number:04}(UUIDv7PrimaryKeyMixin, TimestampMixin, Base):
            __tablename__ = "{_table(number)}"
            name: Mapped[str] = mapped_column(String(50))
            parent_id: Mapped[uuid.UUID | None] = {parent}
        """


def _revision(number: int) -> str:
    name, parent = _table(number), _table(number - 1)
    foreign_key = (
        f'sa.ForeignKeyConstraint(["parent_id"], ["{parent}.id"], name=op.f("fk_{name}_parent_id_{parent}"), '
        'ondelete="CASCADE"),'
    )
    index = f'op.create_index(op.f("idx_{name}_parent_id"), "{name}", ["parent_id"], unique=False)'
    return f"""
        import sqlalchemy as sa
        from alembic import op
        from schemakit.sql import uuid7_server_default

        revision = "r{number:04}"
        down_revision = {f'"r{number - 1:04}"' if number else None}
        branch_labels = None
        depends_on = None


        def upgrade():
            {"op.create_schemakit_functions()" if not number else ""}
            op.create_table(
                "{name}",
                sa.Column("id", sa.Uuid(), server_default=uuid7_server_default(), nullable=False),
                sa.Column("name", sa.String(length=50), nullable=False),
                sa.Column("parent_id", sa.Uuid(), nullable=True),
                sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"),
                          nullable=False),
                sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"),
                          nullable=False),
                {foreign_key if number else ""}
                sa.PrimaryKeyConstraint("id", name=op.f("pk_{name}")),
            )
            {index if number else ""}
            op.create_updated_at_trigger("{name}")


        def downgrade():
            op.drop_updated_at_trigger("{name}")
            {f'op.drop_index(op.f("idx_{name}_parent_id"), table_name="{name}")' if number else ""}
            op.drop_table("{name}")
            {"op.drop_schemakit_functions()" if not number else ""}
        """


def project(folder: Path, revisions: int) -> Path:
    """A project with ``revisions`` revisions and the models they build; returns its folder."""
    (folder / "alembic" / "versions").mkdir(parents=True)
    (folder / "alembic" / "env.py").write_text(ENV)
    models = "import uuid\nfrom sqlalchemy import ForeignKey, String\n"
    models += "from sqlalchemy.orm import Mapped, mapped_column\n"
    models += "from schemakit import Base, TimestampMixin, UUIDv7PrimaryKeyMixin\n"
    models += "".join(textwrap.dedent(_model(number)) for number in range(revisions))
    (folder / "models.py").write_text(models)
    for number in range(revisions):
        path = folder / "alembic" / "versions" / f"{20260101000000 + number}_add_{_table(number)}.py"
        path.write_text(textwrap.dedent(_revision(number)))
    (folder / "alembic.ini").write_text(INI)
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_migrations.py").write_text(TESTS)
    return folder


def _run(arguments: list[str], folder: Path, server_url: str) -> None:
    environment = {**os.environ, "TEST_DATABASE_URL": server_url, "DATABASE_URL": "sqlite:///unused.db"}
    environment.pop("CI", None)
    done = subprocess.run(arguments, cwd=folder, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(arguments[:3])} failed in {folder}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and runs")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case (full run)")
    arguments = parser.parse_args()
    sizes, repeats = ((10, 50), 1) if arguments.quick else ((10, 50, 100, 200), arguments.repeats)
    bin_folder = Path(sys.executable).parent
    commands = {
        "schemakit check": [str(bin_folder / "schemakit"), "check", "--format", "json"],
        "pytest-alembic": [sys.executable, "-m", "pytest", "-q", "-p", "no:pytest_alembic", "-p", "no:cacheprovider"],
    }
    title = "schemakit check against pytest-alembic, by revisions (PostgreSQL)"
    with postgres() as server, tempfile.TemporaryDirectory() as work:
        print(header(title, server))
        url = server.url.render_as_string(hide_password=False)
        folders = {size: project(Path(work) / f"history_{size}", size) for size in sizes}
        samples: dict[tuple[str, int], list[float]] = {(tool, size): [] for tool in commands for size in sizes}
        for round_ in range(repeats):
            for size in sizes:
                tools = list(commands) if round_ % 2 == 0 else list(reversed(commands))
                for tool in tools:
                    samples[tool, size].append(timed(partial(_run, commands[tool], folders[size], url)))
                    print(f"  {tool}, {size} revisions: {samples[tool, size][-1]:.2f} s", flush=True)
    measurements = []
    for size in sizes:
        measurements.append(Measurement(f"pytest-alembic, {size} revisions", samples["pytest-alembic", size]))
        measurements.append(
            Measurement(
                f"schemakit check, {size} revisions",
                samples["schemakit check", size],
                baseline=f"pytest-alembic, {size} revisions",
                extra={"revisions": size},
            )
        )
    print(f"\n## Median of {repeats} runs\n{table(measurements, unit='s', scale=1.0)}")
    check = {m.extra["revisions"]: m.median for m in measurements if m.extra}
    per_revision = {f"{low}-{high}": (check[high] - check[low]) / (high - low) for low, high in pairwise(sizes)}
    listed = ", ".join(f"{step}: {seconds:.4f}" for step, seconds in per_revision.items())
    print(f"\nschemakit check, seconds per added revision: {listed}")
    path = save("check", title, measurements, quick=arguments.quick, per_revision_seconds=per_revision)
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
