"""A password planted in DATABASE_URL shows up in no output schemakit writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projects import LIBRARY, copy_project

PASSWORD = "Pl4nted-S3cret"
ON_POSTGRES = pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])


def run(arguments: list[str], cwd: Path, **environ: str) -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("APP_ENV", "DB_"))}
    result = subprocess.run(
        arguments, cwd=cwd, env=environment | environ, capture_output=True, text=True, check=False, timeout=300
    )
    return result.stdout + result.stderr


LOGGING = """
import logging, sys
from sqlalchemy import text
from schemakit import make_engine
logging.basicConfig(stream=sys.stdout, level=logging.INFO)
engine = make_engine()
with engine.connect() as connection:
    connection.execute(text("SELECT pg_sleep(0.01)"))
print(repr(engine), engine.url)
"""


@ON_POSTGRES
def test_a_planted_password_appears_in_no_output(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url.replace("postgres@", f"postgres:{PASSWORD}@")  # trust auth: any password works
    assert PASSWORD in url
    project = copy_project(tmp_path / "project")
    (project / "conftest.py").write_text('pytest_plugins = ["schemakit.testing.plugin"]\n')
    (project / "pytest.ini").write_text("[pytest]\n")
    server = url.rsplit("/", 1)[0] + "/postgres"
    python = sys.executable
    outputs = {
        "bad setting through alembic": run(
            [python, "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"],
            project, DATABASE_URL=url, DB_POOL_SIZE="many",
        ),
        "alembic upgrade": run(
            [python, "-m", "alembic", "-c", str(project / "alembic.ini"), "upgrade", "head"],
            project, DATABASE_URL=url, APP_ENV="test",
        ),
        "seed refused": run(
            [python, "-m", "schemakit.cli", "seed", "--models", "tests.library.models", "--fixtures",
             str(LIBRARY / "fixtures")],
            LIBRARY.parent.parent, DATABASE_URL=url, APP_ENV="production",
        ),
        "seed": run(
            [python, "-m", "schemakit.cli", "seed", "--models", "tests.library.models", "--fixtures",
             str(LIBRARY / "fixtures")],
            LIBRARY.parent.parent, DATABASE_URL=url, APP_ENV="test",
        ),
        "check --applied-to": run(
            [python, "-m", "schemakit.cli", "check", "--backend", "sqlite", "--applied-to", url], project
        ),
        "pytest header": run(
            [python, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", "-p", "no:pytest_alembic"],
            project, TEST_DATABASE_URL=server,
        ),
        "echo and slow-query logs": run(
            [python, "-c", LOGGING], tmp_path, DATABASE_URL=url, DB_ECHO="true", DB_SLOW_QUERY_MS="1"
        ),
    }  # fmt: skip
    assert "FAILED: cannot migrate: the database settings are invalid: DB_POOL_SIZE" in outputs[
        "bad setting through alembic"
    ].replace("ERROR [alembic.util.messaging] ", "FAILED: ")
    assert "Seeded postgresql+psycopg://postgres:***@" in outputs["seed"]
    assert (
        "schemakit: postgresql from TEST_DATABASE_URL (postgresql+psycopg://postgres:***@" in outputs["pytest header"]
    )
    assert "slow query" in outputs["echo and slow-query logs"]
    assert "SELECT pg_sleep(0.01)" in outputs["echo and slow-query logs"]
    assert {name: PASSWORD in output for name, output in outputs.items()} == dict.fromkeys(outputs, False)
