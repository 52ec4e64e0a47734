"""``schemakit inspect``: each check finds its planted problem, and nothing on a healthy schema or the template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import IntegrityError

from schemakit import DatabaseSettings, make_engine
from schemakit.cli import main
from schemakit.inspection import CHECKS, MIN_TABLE_READS, inspect_database
from schemakit.migrations import upgrade
from schemakit.migrations.commands import make_config

ROOT = Path(__file__).parent.parent
POSTGRES_ONLY = [pytest.param("postgresql", marks=pytest.mark.requires_postgres)]

# One planted instance of every static problem, each found by its own check and by no other.
POSTGRES_PROBE = """
CREATE TABLE parents (id bigint PRIMARY KEY, code integer UNIQUE NOT NULL);
CREATE TABLE kids (id bigint PRIMARY KEY, parent_id bigint CONSTRAINT fk_kids_parent REFERENCES parents (id));
CREATE TABLE dup (id bigint PRIMARY KEY, a integer, b integer);
CREATE INDEX dup_a_1 ON dup (a);
CREATE INDEX dup_a_2 ON dup (a);
CREATE INDEX dup_b ON dup (b);
CREATE INDEX dup_b_a ON dup (b, a);
CREATE TABLE broken (id bigint PRIMARY KEY, v integer);
INSERT INTO broken VALUES (1, 1), (2, 1);
CREATE TABLE loose (a integer);
CREATE TABLE pairs (id bigint PRIMARY KEY, a integer NOT NULL, b integer, CONSTRAINT pairs_a_b UNIQUE (a, b));
CREATE SEQUENCE almost MAXVALUE 100;
SELECT setval('almost', 90);
CREATE TABLE mism (id bigint PRIMARY KEY, parent_code bigint CONSTRAINT fk_mism_code REFERENCES parents (code));
CREATE INDEX mism_code ON mism (parent_code);
ALTER TABLE pairs ADD CONSTRAINT pairs_a_positive CHECK (a > 0) NOT VALID;
CREATE TABLE twice (id bigint PRIMARY KEY, parent_id bigint);
CREATE INDEX twice_parent ON twice (parent_id);
ALTER TABLE twice ADD CONSTRAINT fk_twice_1 FOREIGN KEY (parent_id) REFERENCES parents (id);
ALTER TABLE twice ADD CONSTRAINT fk_twice_2 FOREIGN KEY (parent_id) REFERENCES parents (id);
CREATE UNLOGGED TABLE scratch (id bigint PRIMARY KEY);
CREATE TABLE docs (id bigint PRIMARY KEY, body json);
CREATE TABLE events (id bigint PRIMARY KEY, at timestamp);
CREATE TABLE codes (id bigint PRIMARY KEY, code char(3));
CREATE TABLE tagged (id bigint PRIMARY KEY, tags text[]);
CREATE INDEX tagged_tags ON tagged (tags);
CREATE TABLE "Mixed" (id bigint CONSTRAINT mixed_pkey PRIMARY KEY);
CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER keep_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION keep();
ALTER TABLE events DISABLE TRIGGER keep_events;
CREATE FUNCTION elevated() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
"""
POSTGRES_FOUND = {
    "foreign-key-without-index": ["kids.fk_kids_parent"],
    "duplicate-index": ["dup_a_2"],
    "redundant-index": ["dup_b"],
    "invalid-index": ["broken_v"],
    "table-without-primary-key": ["loose"],
    "nullable-unique-column": ["pairs_a_b"],
    "sequence-near-overflow": ["almost"],
    "foreign-key-type-mismatch": ["mism.fk_mism_code"],
    "not-valid-constraint": ["pairs.pairs_a_positive"],
    "duplicate-foreign-key": ["twice.fk_twice_2"],
    "unlogged-table": ["scratch"],
    "json-column": ["docs.body"],
    "timestamp-without-time-zone": ["events.at"],
    "char-column": ["codes.code"],
    "btree-index-on-array": ["tagged_tags"],
    "name-needs-quoting": ['"Mixed"'],
    "disabled-trigger": ["events.keep_events"],
    "security-definer-without-search-path": ["elevated()"],
}
# The same tables with each problem fixed.
POSTGRES_HEALTHY = """
CREATE TABLE parents (id bigint PRIMARY KEY, code integer UNIQUE NOT NULL);
CREATE TABLE kids (id bigint PRIMARY KEY, parent_id bigint CONSTRAINT fk_kids_parent REFERENCES parents (id));
CREATE INDEX kids_parent ON kids (parent_id);
CREATE TABLE dup (id bigint PRIMARY KEY, a integer, b integer);
CREATE INDEX dup_a ON dup (a);
CREATE INDEX dup_b_a ON dup (b, a);
CREATE UNIQUE INDEX dup_b_unique ON dup (b);
CREATE TABLE pairs (id bigint PRIMARY KEY, a integer NOT NULL, b integer NOT NULL, CONSTRAINT pairs_a_b UNIQUE (a, b));
ALTER TABLE pairs ADD CONSTRAINT pairs_a_positive CHECK (a > 0);
CREATE SEQUENCE roomy;
SELECT setval('roomy', 90);
CREATE TABLE mism (id bigint PRIMARY KEY, parent_code integer CONSTRAINT fk_mism_code REFERENCES parents (code));
CREATE INDEX mism_code ON mism (parent_code);
CREATE TABLE docs (id bigint PRIMARY KEY, body jsonb, at timestamptz, code varchar(3), tags text[]);
CREATE INDEX docs_tags ON docs USING gin (tags);
CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER keep_docs BEFORE INSERT ON docs FOR EACH ROW EXECUTE FUNCTION keep();
CREATE FUNCTION elevated() RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public AS 'SELECT 1';
"""
SQLITE_PROBE = """
CREATE TABLE parents (id INTEGER PRIMARY KEY, code INTEGER NOT NULL UNIQUE);
CREATE TABLE kids (
    id INTEGER PRIMARY KEY, parent_id INTEGER, CONSTRAINT fk_kids_parent FOREIGN KEY (parent_id) REFERENCES parents (id)
);
CREATE TABLE dup (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);
CREATE INDEX dup_a_1 ON dup (a);
CREATE INDEX dup_a_2 ON dup (a);
CREATE INDEX dup_b ON dup (b);
CREATE INDEX dup_b_a ON dup (b, a);
CREATE TABLE loose (a INTEGER);
CREATE TABLE pairs (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER);
CREATE UNIQUE INDEX pairs_a_b ON pairs (a, b);
CREATE TABLE "Mixed" (id INTEGER PRIMARY KEY)
"""
SQLITE_FOUND = {
    "foreign-key-without-index": ["kids.fk_kids_parent"],
    "duplicate-index": ["dup_a_2"],
    "redundant-index": ["dup_b"],
    "table-without-primary-key": ["loose"],
    "nullable-unique-column": ["pairs_a_b"],
    "name-needs-quoting": ["Mixed"],
}


def _create(url: str, script: str) -> Engine:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in script.strip().split(";\n"):
            connection.exec_driver_sql(statement)
    return engine


def _inspect(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as connection:
        return inspect_database(connection).findings()


@pytest.mark.parametrize("dialect", POSTGRES_ONLY)
def test_every_planted_problem_is_found_by_its_own_check(empty_database_url: str) -> None:
    engine = _create(empty_database_url, POSTGRES_PROBE)
    # The duplicate values make the concurrent build fail, leaving the index INVALID.
    with pytest.raises(IntegrityError, match="could not create unique index"), engine.connect() as connection:
        connection.exec_driver_sql("CREATE UNIQUE INDEX CONCURRENTLY broken_v ON broken (v)")
    try:
        assert _inspect(engine) == POSTGRES_FOUND
    finally:
        engine.dispose()
    assert set(POSTGRES_FOUND) == {check.name for check in CHECKS if check.kind == "static"}


@pytest.mark.parametrize("dialect", POSTGRES_ONLY)
def test_the_same_schema_with_each_problem_fixed_passes(empty_database_url: str) -> None:
    engine = _create(empty_database_url, POSTGRES_HEALTHY)
    try:
        with engine.connect() as connection:
            report = inspect_database(connection)
    finally:
        engine.dispose()
    assert report.findings() == {}
    assert report.passed


def test_sqlite_runs_the_checks_that_apply_to_it(tmp_path: Path) -> None:
    engine = _create(f"sqlite:///{tmp_path / 'probe.db'}", SQLITE_PROBE)
    try:
        with engine.connect() as connection:
            report = inspect_database(connection)
    finally:
        engine.dispose()
    assert report.findings() == SQLITE_FOUND
    skipped = {result.check.name for result in report.results if result.skipped}
    assert skipped == {check.name for check in CHECKS if not check.sqlite}


def test_the_migrated_template_has_no_findings(empty_database_url: str) -> None:
    settings = DatabaseSettings(database_url=empty_database_url, _env_file=None)
    upgrade(make_config(ROOT / "alembic.ini", settings=settings))
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            report = inspect_database(connection)
    finally:
        engine.dispose()
    assert report.findings() == {}, report.text()
    assert report.passed


@pytest.mark.parametrize("dialect", POSTGRES_ONLY)
def test_usage_checks_run_once_the_statistics_hold_real_traffic(empty_database_url: str) -> None:
    engine = _create(
        empty_database_url,
        """
        CREATE TABLE busy (id bigint PRIMARY KEY, kind integer) WITH (autovacuum_enabled = false);
        CREATE INDEX busy_kind ON busy (kind);
        INSERT INTO busy SELECT i, mod(i, 7) FROM generate_series(1, 20000) AS i;
        ANALYZE busy
        """,
    )
    try:
        assert "unused-index" not in _inspect(engine)
        with engine.connect() as connection:
            for _ in range(MIN_TABLE_READS):
                connection.exec_driver_sql("SELECT count(*) FROM busy WHERE id + 0 > 0")
            connection.exec_driver_sql("DELETE FROM busy WHERE mod(id, 2) = 0")
            connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        assert _inspect(engine) == {
            "unused-index": ["busy_kind"],
            "sequential-scan-heavy-table": ["busy"],
            "table-bloat": ["busy"],
        }
        with engine.connect() as connection:
            assert inspect_database(connection).passed  # usage findings warn
    finally:
        engine.dispose()


def test_the_command_exits_1_on_a_finding_and_reports_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    _create(url, SQLITE_PROBE).dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["inspect", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    failed = {check["name"]: check for check in report["checks"] if check["status"] == "failed"}
    assert set(failed) == set(SQLITE_FOUND)
    assert failed["table-without-primary-key"]["findings"] == [{"object": "loose", "detail": "no primary key"}]
    assert failed["table-without-primary-key"]["fix"]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["inspect"]) == 0
    assert "0 static check(s) failed" in capsys.readouterr().out


def test_the_command_names_a_database_it_cannot_reach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    assert main(["inspect"]) == 2
    assert "schemakit inspect:" in capsys.readouterr().err


def test_every_check_is_documented_with_why_and_fix() -> None:
    page = (ROOT / "docs" / "inspect.md").read_text()
    for check in CHECKS:
        assert f"### `{check.name}`\n\n{check.why}\n\n**Fix:** {check.fix}" in page, check.name
