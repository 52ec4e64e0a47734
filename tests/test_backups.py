"""Backups proven by restoring them: each fault planted on the restored side or in the archive is caught."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from schemakit import AppEnv, DatabaseSettings
from schemakit.backups import BackupError, backup, drill, manifest_path, restore, verify_restore
from schemakit.cli import main
from schemakit.environment_marker import write_environment_marker
from tests.conftest import _postgres

SCHEMA = {
    "postgresql": [
        "CREATE TABLE regions (id serial PRIMARY KEY, code text NOT NULL UNIQUE)",
        "CREATE TABLE shops (id serial PRIMARY KEY, region_id integer NOT NULL REFERENCES regions (id), "
        "name text NOT NULL, opened timestamptz NOT NULL DEFAULT '2020-01-01', score double precision, "
        "extra json NOT NULL DEFAULT '{}')",  # json has no hash function: this table's checksum takes the MD5 way
        "CREATE INDEX ix_shops_region ON shops (region_id)",
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)",
    ],
    "sqlite": [
        "CREATE TABLE regions (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE)",
        "CREATE TABLE shops (id INTEGER PRIMARY KEY AUTOINCREMENT, region_id INTEGER NOT NULL REFERENCES regions (id), "
        "name TEXT NOT NULL, opened TEXT NOT NULL DEFAULT '2020-01-01', score REAL)",
        "CREATE INDEX ix_shops_region ON shops (region_id)",
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
    ],
}
DATA = [
    "INSERT INTO regions (code) VALUES ('eu'), ('us'), ('ap')",
    "INSERT INTO shops (region_id, name, score) "
    "SELECT 1 + (value % 3), 'shop ' || value, value / 7.0 FROM ({rows}) AS n",
    "INSERT INTO alembic_version VALUES ('abc123')",
]
ROWS = {
    "postgresql": "SELECT generate_series(1, 500) AS value",
    "sqlite": "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 500) "
    "SELECT value FROM s",
}


def engine_for(url: URL) -> Engine:
    return create_engine(url, poolclass=NullPool)


def run(url: URL, *statements: str) -> None:
    engine = engine_for(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def new_database(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> Iterator[Callable[[], URL]]:
    """Makes new, empty databases on the test's dialect; dropped afterwards."""
    made = []

    def make() -> URL:
        if dialect == "sqlite":
            return make_url(f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}")
        database = _postgres(request).create_empty(f"backup_{uuid.uuid4().hex[:8]}")
        made.append(database)
        return database.url

    yield make
    for database in made:
        _postgres(request).drop(database)


@pytest.fixture
def source(new_database: Callable[[], URL], dialect: str) -> DatabaseSettings:
    """The configured database: two tables with a foreign key, an index, sequences and 500 rows."""
    url = new_database()
    run(url, *SCHEMA[dialect], *(statement.format(rows=ROWS[dialect]) for statement in DATA))
    return DatabaseSettings.for_url(url, app_env=AppEnv.DEVELOPMENT)


def test_a_drill_of_an_intact_backup_passes_twenty_times(source: DatabaseSettings) -> None:
    for run_number in range(20):
        report = drill(source)
        assert report.passed, (run_number, report.differences)
        assert report.restore_seconds > 0


def restored(source: DatabaseSettings, target: URL, tmp_path: Path) -> object:
    archive = tmp_path / "archive"
    manifest = backup(source, archive)
    restore(archive, target, configured=source)
    return manifest


FAULTS: dict[str, tuple[dict[str, str], str]] = {
    "missing table": ({"postgresql": "DROP TABLE shops", "sqlite": "DROP TABLE shops"}, "table shops is missing"),
    "missing row": ({"*": "DELETE FROM shops WHERE id = 7"}, "table shops has 499 rows, the backup has 500"),
    "changed value": ({"*": "UPDATE shops SET score = 1.5 WHERE id = 7"}, "table shops: the content differs"),
    "changed key": ({"*": "UPDATE regions SET code = 'xx' WHERE code = 'ap'"}, "table regions: the content differs"),
    "dropped index": ({"*": "DROP INDEX ix_shops_region"}, "index shops.ix_shops_region is missing"),
    "sequence reset": (
        {
            "postgresql": "SELECT setval('shops_id_seq', 1)",
            "sqlite": "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'shops'",
        },
        "is at 1, behind its column's largest value 500",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_planted_on_the_restored_side_is_named(
    fault: str, source: DatabaseSettings, new_database: Callable[[], URL], dialect: str, tmp_path: Path
) -> None:
    statements, expected = FAULTS[fault]
    planted(source, new_database(), tmp_path, statements.get(dialect) or statements["*"], expected)


def planted(source: DatabaseSettings, target: URL, tmp_path: Path, fault: str, expected: str) -> None:
    manifest = restored(source, target, tmp_path)
    assert verify_restore(manifest, target) == []  # type: ignore[arg-type]
    run(target, fault)
    found = verify_restore(manifest, target)  # type: ignore[arg-type]
    assert len(found) == 1, found
    assert expected in found[0]


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_an_invalid_constraint_on_the_restored_side_is_named(
    source: DatabaseSettings, new_database: Callable[[], URL], tmp_path: Path
) -> None:
    # SQLite keeps no validation state for constraints: PostgreSQL only.
    fault = "UPDATE pg_constraint SET convalidated = false WHERE conname = 'shops_region_id_fkey'"
    planted(source, new_database(), tmp_path, fault, "constraint shops.shops_region_id_fkey is not validated")


def test_a_truncated_archive_or_one_from_another_database_is_refused_before_restoring(
    source: DatabaseSettings, new_database: Callable[[], URL], tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    backup(source, archive)
    other = new_database()
    run(other, "CREATE TABLE things (id integer)")
    backup(DatabaseSettings.for_url(other), tmp_path / "other")
    target = new_database()
    intact = archive.read_bytes()
    archive.write_bytes(intact[: len(intact) // 2])
    with pytest.raises(BackupError, match="not the archive its manifest describes"):
        restore(archive, target)
    shutil.copy(tmp_path / "other", archive)
    with pytest.raises(BackupError, match="not the archive its manifest describes"):
        restore(archive, target)
    # The drill reports a backup that does not restore as a finding, not as a crash.
    archive.write_bytes(intact)
    assert restore(archive, target) > 0


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_an_archive_that_breaks_off_restores_nothing(
    source: DatabaseSettings, new_database: Callable[[], URL], tmp_path: Path
) -> None:
    from schemakit.backups.postgres import restore_archive

    archive = tmp_path / "archive"
    backup(source, archive)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    target = new_database()
    with pytest.raises(BackupError, match=r"cannot read the archive|nothing was restored"):
        restore_archive(archive, target)
    engine = engine_for(target)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")) == 0
    engine.dispose()


def mark(url: URL, environment: AppEnv) -> None:
    engine = engine_for(url)
    with engine.begin() as connection:
        write_environment_marker(connection, environment)
    engine.dispose()


def test_restore_refuses_the_configured_database_and_a_production_one_unless_forced(
    source: DatabaseSettings, new_database: Callable[[], URL], dialect: str, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    backup(source, archive)
    with pytest.raises(BackupError, match="configured database"):
        restore(archive, source.sync_url, configured=source)
    if dialect == "postgresql":
        production = new_database()
        mark(production, AppEnv.PRODUCTION)
        with pytest.raises(BackupError, match="marked production"):
            restore(archive, production, configured=source)


def test_the_commands_back_up_restore_and_drill(
    source: DatabaseSettings,
    new_database: Callable[[], URL],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", source.sync_url.render_as_string(hide_password=False))
    archive = tmp_path / "nightly.dump"
    assert main(["db", "backup", "--output", str(archive)]) == 0
    assert archive.is_file()
    assert manifest_path(archive).is_file()
    assert "3 tables, 504 rows" in capsys.readouterr().out
    target = new_database().render_as_string(hide_password=False)
    assert main(["db", "restore", str(archive), "--to", target]) == 0
    assert main(["db", "restore", str(archive), "--to", source.sync_url.render_as_string(hide_password=False)]) == 2
    assert "refusing to restore over the configured database" in capsys.readouterr().err
    assert main(["db", "drill"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_the_drill_fails_naming_what_differs(
    source: DatabaseSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import schemakit.backups.jobs as drilling

    original = drilling.restore

    def restore_then_lose_a_row(archive: Path, target: URL, **options: object) -> float:
        seconds = original(archive, target, **options)  # type: ignore[arg-type]
        run(target, "DELETE FROM regions WHERE code = 'af'")
        return seconds

    monkeypatch.setattr(drilling, "restore", restore_then_lose_a_row)
    monkeypatch.setenv("DATABASE_URL", source.sync_url.render_as_string(hide_password=False))
    run(source.sync_url, "INSERT INTO regions (code) VALUES ('af')")
    assert main(["db", "drill"]) == 1
    output = capsys.readouterr().out
    assert "FAIL" in output
    assert "table regions has 3 rows, the backup has 4" in output
