"""Every Python sample in the README and docs/ is executed by a test; a new sample needs a runner here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def samples() -> list[tuple[str, str]]:
    return [(page.name, code) for page in PAGES for code in BLOCK.findall(page.read_text())]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def in_a_fresh_folder(code: str, tmp_path: Path) -> None:
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr


def in_a_copy_of_the_template(code: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "alembic", tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", tmp_path / "alembic.ini")
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "migrated.db").exists()


REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "sample"
down_revision = {head!r}
branch_labels = None
depends_on = None


{upgrade}


def downgrade() -> None:
    pass
"""


def as_a_revision_of_the_template(code: str, tmp_path: Path) -> None:
    # A fragment of upgrade(), or a whole one, run as the next revision of a copy of the template (SQLite).
    shutil.copytree(ROOT / "alembic", tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", tmp_path / "alembic.ini")
    head = subprocess.run(
        [sys.executable, "-m", "alembic", "heads"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    upgrade = code if code.startswith("def upgrade") else "def upgrade() -> None:\n" + textwrap.indent(code, "    ")
    (tmp_path / "alembic" / "versions" / "29990101000000_sample.py").write_text(
        REVISION.format(head=head, upgrade=upgrade)
    )
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": "sqlite:///migrated.db", "APP_ENV": "test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Running upgrade {head} -> sample" in result.stderr


def is_in_the_templates_revisions(code: str, _tmp_path: Path) -> None:
    revisions = "".join(path.read_text() for path in (ROOT / "alembic" / "versions").glob("*.py"))
    lines = [line.strip() for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert [line for line in lines if line not in revisions] == []


def is_the_templates_env_py(code: str, _tmp_path: Path) -> None:
    # Run by every migration of the template's tests, as alembic/env.py.
    assert code == (ROOT / "alembic" / "env.py").read_text()


def run_by_the_plugin_tests(code: str, _tmp_path: Path) -> None:
    # Run by tests/template/test_testing_plugin.py::test_the_testing_docs_sample_passes, under the plugin.
    assert "def test_signup_commits(db_session)" in code


def run_by_the_plugin_plan_tests(code: str, _tmp_path: Path) -> None:
    # Run by tests/template/test_testing_plugin.py::test_the_plan_check_docs_sample_passes, under the plugin.
    assert "def test_orders_by_status_use_their_index(db_session, query_plans)" in code


RUNNERS = {
    "class Book(Entity, SoftDeleteMixin, VersionedMixin)": in_a_fresh_folder,
    "Base.metadata.create_all(engine)  # a real project": in_a_fresh_folder,
    "run_migrations(Base.metadata)": is_the_templates_env_py,
    "await upgrade_async(connection, config)": in_a_copy_of_the_template,
    'pytest_plugins = ["schemakit.testing.plugin"]': in_a_fresh_folder,
    "def test_signup_commits(db_session)": run_by_the_plugin_tests,
    "def test_orders_by_status_use_their_index(db_session, query_plans)": run_by_the_plugin_plan_tests,
    'op.add_column_online("orders"': as_a_revision_of_the_template,
    "class Member(Entity, SoftDeleteMixin, AuditTrailMixin)": in_a_fresh_folder,
    "class Recipe(Entity, SoftDeleteMixin, SearchableMixin)": in_a_fresh_folder,
    "shelves = ModelCache(client, SHELVES, Shelf)": in_a_fresh_folder,
    "Session = make_routing_session_factory(": in_a_fresh_folder,
    "class PageView(UUIDv7PrimaryKeyMixin, TimePartitionedMixin, Base)": in_a_fresh_folder,
    'where="number IS NULL"': as_a_revision_of_the_template,
    'op.expand_column("orders", "metadata", "details"': is_in_the_templates_revisions,
}


@pytest.mark.parametrize(("page", "code"), samples(), ids=lambda value: str(value).splitlines()[0][:40])
def test_every_sample_runs(page: str, code: str, tmp_path: Path) -> None:
    runners = [runner for marker, runner in RUNNERS.items() if marker in code]
    assert len(runners) == 1, f"a sample in {page} that no test runs:\n{code}"
    runners[0](code, tmp_path)
