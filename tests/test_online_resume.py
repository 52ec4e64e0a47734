"""A migration killed with SIGKILL on PostgreSQL: the next run waits for its orphan, and a backfill resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from schemakit.migrations import upgrade
from tests.projects import add_revision, configure, copy_project, head_revision
from tests.test_online import ACCOUNTS, engine_for, values

pytestmark = pytest.mark.requires_postgres


@pytest.fixture
def dialect() -> str:
    return "postgresql"


def start_upgrade(project: Path, url: str, **environment: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": url, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(url: str, query: str, deadline_s: float = 60.0) -> None:
    """Poll until ``query`` returns a true value."""
    engine = engine_for(url)
    try:
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            with engine.connect() as connection:
                try:
                    if connection.scalar(text(query)):
                        return
                except ProgrammingError:  # the table is not there yet
                    pass
            time.sleep(0.02)
        raise AssertionError(f"gave up waiting for: {query}")
    finally:
        engine.dispose()


def test_the_run_after_a_killed_migration_waits_for_its_orphan(tmp_path: Path, empty_database_url: str) -> None:
    project = copy_project(tmp_path / "project")
    add_revision(
        project,
        "slow",
        """
        import os

        def upgrade():
            op.create_table("slow_things", sa.Column("n", sa.Integer))
            if os.environ.get("SLOW_MIGRATION"):
                op.execute("SELECT pg_sleep(60)")

        def downgrade():
            op.drop_table("slow_things")
        """,
    )
    killed = start_upgrade(project, empty_database_url, SLOW_MIGRATION="1")
    wait_for(empty_database_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'")
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    # The killed run's server backend is still sleeping and holds the migration lock; the next run waits for it
    # to notice its client is gone, instead of starting beside it or waiting out the sleep.
    started = time.monotonic()
    upgrade(configure(project, empty_database_url, migration_lock_wait_s=30))
    assert time.monotonic() - started < 15
    assert values(empty_database_url, "SELECT version_num FROM alembic_version") == [(head_revision(project),)]
    assert values(empty_database_url, "SELECT count(*) FROM slow_things") == [(0,)]


def test_a_backfill_killed_half_way_resumes_and_updates_no_row_twice(tmp_path: Path, empty_database_url: str) -> None:
    project = copy_project(tmp_path / "project")
    add_revision(project, "accounts", ACCOUNTS.replace("i < 250", "i < 20000"), stamp="29990101000000")
    add_revision(
        project,
        "count_every_row",
        """
        def upgrade():
            op.backfill("accounts", {"counter": "counter + 1", "region": "'r' || id"}, batch_size=500, pause_s=0.02)

        def downgrade():
            pass
        """,
        stamp="29990102000000",
    )
    run = start_upgrade(project, empty_database_url)
    wait_for(empty_database_url, "SELECT rows_done >= 3000 FROM schemakit_backfill_progress")
    run.send_signal(signal.SIGKILL)
    run.communicate()
    half = values(empty_database_url, "SELECT rows_done FROM schemakit_backfill_progress")[0][0]
    assert isinstance(half, int)
    assert 3000 <= half < 20000
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE counter = 1") == [(half,)]
    rerun = start_upgrade(project, empty_database_url)
    assert rerun.wait(timeout=120) == 0, rerun.communicate()[1]
    assert "resumes after" in rerun.communicate()[1]
    assert values(empty_database_url, "SELECT min(counter), max(counter), count(*) FROM accounts") == [(1, 1, 20000)]
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE region = 'r' || id") == [(20000,)]
    assert values(empty_database_url, "SELECT to_regclass('schemakit_backfill_progress')") == [(None,)]
