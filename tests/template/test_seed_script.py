"""The template's seed script, ``scripts/seed_data.py``, on the template's own migrated database and fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from schemakit import AppEnv, DatabaseSettings, make_engine
from schemakit.environment_marker import write_environment_marker
from schemakit.migrations import make_config, upgrade
from tests.helpers import SHOP_TABLES, snapshot

ROOT = Path(__file__).parent.parent.parent
TABLES = SHOP_TABLES


@pytest.fixture
def migrated(empty_database_url: str) -> Iterator[Engine]:
    settings = DatabaseSettings.for_url(empty_database_url, app_env=AppEnv.TEST)
    upgrade(make_config(ROOT / "alembic.ini", settings=settings))
    engine = make_engine(settings)
    yield engine
    engine.dispose()


def seed_script(url: str, *arguments: str, app_env: str | None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    environment["DATABASE_URL"] = url
    if app_env is not None:
        environment["APP_ENV"] = app_env
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "seed_data.py"), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("app_env", "marker", "reason"),
    [
        ("production", None, "APP_ENV is production, not development or test"),
        (None, None, "APP_ENV is not set"),
        ("development", AppEnv.PRODUCTION, "the database itself is marked as production"),
    ],
    ids=["production-env", "missing-env", "production-marker"],
)
def test_the_script_refuses_and_writes_nothing(
    migrated: Engine, empty_database_url: str, app_env: str | None, marker: AppEnv | None, reason: str
) -> None:
    if marker is not None:
        with migrated.begin() as connection:
            write_environment_marker(connection, marker)
    before = snapshot(migrated)
    result = seed_script(empty_database_url, app_env=app_env)
    assert result.returncode == 1, result.stderr
    masked = DatabaseSettings(database_url=empty_database_url, _env_file=None).masked_url()
    assert result.stderr.startswith(f"Refusing to seed {masked}:")
    assert reason in result.stderr
    assert "Nothing was written." in result.stderr
    assert snapshot(migrated) == before
    forced = seed_script(empty_database_url, "--override-production-guard", app_env=app_env)
    assert forced.returncode == 0, forced.stderr
    assert "total            18        0          0" in forced.stdout


def test_the_script_reports_and_supports_dry_runs(migrated: Engine, empty_database_url: str) -> None:
    dry = seed_script(empty_database_url, "--dry-run", app_env="development")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written." in dry.stdout
    assert snapshot(migrated)["users"][0] == 0
    first = seed_script(empty_database_url, app_env="development")
    second = seed_script(empty_database_url, "--mode", "converge", app_env="development")
    assert "total            18        0          0" in first.stdout
    assert "total             0        0         18" in second.stdout


def test_the_script_explains_bad_fixtures(migrated: Engine, empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    result = seed_script(empty_database_url, "--fixtures", str(tmp_path), app_env="development")
    assert result.returncode == 2
    assert f"Cannot seed: {tmp_path / 'broken.json'}: cannot read the fixture" in result.stderr
