"""Online schema changes: each operation up and down, again after a failure, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from schemakit import DatabaseSettings, SchemakitError
from schemakit.gates import check_lock_safety, check_phases, lint_operations
from schemakit.migrations import downgrade, upgrade, with_options
from schemakit.migrations.online import BACKFILL_PROGRESS_TABLE, LockBudgetExhaustedError
from tests.projects import add_revision, configure, copy_project, head_revision

ROWS = 250

# A table of its own, filled with rows whose updated_at and counter the online revision must respect.
ACCOUNTS = f"""
def upgrade():
    op.create_table(
        "regions",
        sa.Column("code", sa.String(8), primary_key=True),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(80), nullable=False),
        sa.Column("region", sa.String(8)),
        sa.Column("counter", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_updated_at_trigger("accounts")
    op.execute("INSERT INTO regions (code) VALUES ('eu'), ('us')")
    op.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) "
        "INSERT INTO accounts (id, email, region, updated_at) "
        "SELECT i, 'user' || i || '@example.test', CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, "
        "'2001-01-01 00:00:00+00' FROM n"
    )


def downgrade():
    op.drop_updated_at_trigger("accounts")
    op.drop_table("accounts")
    op.drop_table("regions")
"""

ONLINE = """
import os


def upgrade():
    op.add_column_online("accounts", sa.Column("handle", sa.String(80)))
    op.backfill("accounts", {"handle": "email", "counter": "counter + 1"}, batch_size=40)
    op.set_not_null_online("accounts", "handle")
    op.create_index_online("ix_accounts_region", "accounts", ["region"])
    op.create_unique_constraint_online("uq_accounts_handle", "accounts", ["handle"])
    op.create_foreign_key_online("fk_accounts_region_regions", "accounts", "regions", ["region"], ["code"])
    op.create_check_constraint_online(op.f("ck_accounts_counter"), "accounts", "counter >= 0")
    op.expand_column("accounts", "email", "contact", type_=sa.String(80), batch_size=64)
    if os.environ.get("ONLINE_TEST_FAIL"):
        raise RuntimeError("failing on purpose, after every online step")


def downgrade():
    op.undo_expand_column("accounts", "email", "contact")
    op.drop_constraint_online(op.f("ck_accounts_counter"), "accounts", type_="check")
    op.drop_constraint_online("fk_accounts_region_regions", "accounts", type_="foreignkey")
    op.drop_constraint_online("uq_accounts_handle", "accounts", type_="unique")
    op.drop_index_online("ix_accounts_region", "accounts")
    op.drop_not_null_online("accounts", "handle")
    op.drop_column_online("accounts", "handle")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "project")
    add_revision(project, "accounts", ACCOUNTS, stamp="29990101000000")
    return project


def engine_for(url: str) -> Engine:
    return create_engine(DatabaseSettings(database_url=url, _env_file=None).sync_url, poolclass=NullPool)


def shape(url: str) -> dict[str, object]:
    """What the online revision changes, as the database reports it."""
    engine = engine_for(url)
    try:
        inspector = inspect(engine)
        columns = {column["name"]: column for column in inspector.get_columns("accounts")}
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT count(*), min(counter), max(counter), count(DISTINCT updated_at) FROM accounts")
            ).one()
        return {
            "handle": "handle" in columns and not columns["handle"]["nullable"],
            "contact": "contact" in columns,
            "indexes": sorted(i["name"] for i in inspector.get_indexes("accounts") if "duplicates_constraint" not in i),
            "unique": sorted(str(u["name"]) for u in inspector.get_unique_constraints("accounts")),
            "foreign_keys": sorted(str(f["name"]) for f in inspector.get_foreign_keys("accounts")),
            "checks": sorted(str(c["name"]) for c in inspector.get_check_constraints("accounts")),
            "rows": tuple(rows),
        }
    finally:
        engine.dispose()


def values(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


APPLIED = {
    "handle": True,
    "contact": True,
    "indexes": ["ix_accounts_region"],
    "unique": ["uq_accounts_handle"],
    "foreign_keys": ["fk_accounts_region_regions"],
    "checks": ["ck_accounts_counter"],
    # Every row counted once, and updated_at untouched by the backfills.
    "rows": (ROWS, 1, 1, 1),
}


def test_each_operation_up_down_and_up_again(project: Path, empty_database_url: str) -> None:
    accounts = head_revision(project)
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    config = configure(project, empty_database_url)
    upgrade(config, accounts)
    before = shape(empty_database_url)
    upgrade(config)
    assert shape(empty_database_url) == APPLIED
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE contact = email AND handle = email") == [
        (ROWS,)
    ]
    downgrade(config, "-1")
    assert shape(empty_database_url) == {**before, "rows": (ROWS, 1, 1, 1)}
    upgrade(config)
    assert shape(empty_database_url) == {**APPLIED, "rows": (ROWS, 2, 2, 1)}


def test_a_revision_failing_after_its_online_steps_succeeds_when_run_again(
    project: Path, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = head_revision(project)
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    config = configure(project, empty_database_url)
    upgrade(config, accounts)
    monkeypatch.setenv("ONLINE_TEST_FAIL", "1")
    with pytest.raises(RuntimeError, match="on purpose"):
        upgrade(config)
    monkeypatch.delenv("ONLINE_TEST_FAIL")
    upgrade(config)
    assert shape(empty_database_url) == APPLIED
    assert BACKFILL_PROGRESS_TABLE not in inspect(engine_for(empty_database_url)).get_table_names()
    assert values(empty_database_url, "SELECT version_num FROM alembic_version") == [(head_revision(project),)]


def test_the_expanded_columns_follow_each_other(project: Path, empty_database_url: str, dialect: str) -> None:
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    upgrade(configure(project, empty_database_url))
    engine = engine_for(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET email = 'old@example.test' WHERE id = 1"))
        if dialect == "postgresql":
            connection.execute(text("UPDATE accounts SET contact = 'new@example.test' WHERE id = 2"))
            connection.execute(text("INSERT INTO accounts (id, email, handle) VALUES (1001, 'a@example.test', 'a')"))
            connection.execute(text("INSERT INTO accounts (id, contact, handle) VALUES (1002, 'b@example.test', 'b')"))
    engine.dispose()
    rows = values(
        empty_database_url, "SELECT id, email, contact FROM accounts WHERE id IN (1, 2, 1001, 1002) ORDER BY id"
    )
    if dialect == "sqlite":
        # The plain equivalent: the column is copied once, and nothing keeps the two in step afterwards.
        assert rows == [(1, "old@example.test", "user1@example.test"), (2, "user2@example.test", "user2@example.test")]
        return
    # Old code writes email, new code writes contact: the other column follows either way.
    assert rows == [
        (1, "old@example.test", "old@example.test"),
        (2, "new@example.test", "new@example.test"),
        (1001, "a@example.test", "a@example.test"),
        (1002, "b@example.test", "b@example.test"),
    ]


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_an_invalid_index_left_by_a_failed_build_is_built_again(project: Path, empty_database_url: str) -> None:
    accounts = head_revision(project)
    add_revision(
        project,
        "unique_region",
        """
        def upgrade():
            op.create_unique_constraint_online("uq_accounts_region", "accounts", ["region"])

        def downgrade():
            op.drop_constraint_online("uq_accounts_region", "accounts", type_="unique")
        """,
        stamp="29990102000000",
    )
    config = configure(project, empty_database_url)
    upgrade(config, accounts)
    with pytest.raises(Exception, match="could not create unique index"):
        upgrade(config)
    invalid = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('uq_accounts_region')"
    assert values(empty_database_url, invalid) == [(False,)]
    engine = engine_for(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET region = 'r' || id"))
    engine.dispose()
    upgrade(config)
    assert values(empty_database_url, invalid) == [(True,)]
    assert shape(empty_database_url)["unique"] == ["uq_accounts_region"]


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_the_lock_budget_running_out_names_the_blocker_and_changes_nothing(
    project: Path, empty_database_url: str
) -> None:
    accounts = head_revision(project)
    add_revision(
        project,
        "add_handle",
        """
        def upgrade():
            op.add_column_online("accounts", sa.Column("handle", sa.String(80)))

        def downgrade():
            op.drop_column_online("accounts", "handle")
        """,
        stamp="29990102000000",
    )
    config = configure(project, empty_database_url, online_lock_timeout_ms=50, online_lock_budget_s=0.6)
    upgrade(config, accounts)
    previous = values(empty_database_url, "SELECT version_num FROM alembic_version")
    blocker = engine_for(empty_database_url)
    with blocker.connect() as holding:
        holding.execute(text("SELECT count(*) FROM accounts /* a long report */"))
        with pytest.raises(LockBudgetExhaustedError) as caught:
            upgrade(config)
        holding.rollback()
    blocker.dispose()
    message = str(caught.value)
    assert "a long report" in message
    assert "attempts" in message
    assert "handle" not in {c["name"] for c in inspect(engine_for(empty_database_url)).get_columns("accounts")}
    assert values(empty_database_url, "SELECT version_num FROM alembic_version") == previous


def test_offline_sql_shows_the_online_forms(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Offline SQLite scripts cannot hold batch-mode changes (Alembic needs the live table), so PostgreSQL only.
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    command.upgrade(configure(project, "postgresql://offline@localhost/offline"), "head", sql=True)
    script = capsys.readouterr().out
    online = script[script.index("ADD COLUMN IF NOT EXISTS handle") :]
    assert online.startswith("ADD COLUMN IF NOT EXISTS handle")
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_accounts_region" in online
    assert 'ADD CONSTRAINT "uq_accounts_handle" UNIQUE USING INDEX "uq_accounts_handle"' in online
    assert "NOT VALID" in online
    assert 'VALIDATE CONSTRAINT "fk_accounts_region_regions"' in online
    # Each online step runs outside the migration's transaction.
    assert script.count("COMMIT;") > script.count("-- Running upgrade")


CONTRACT = """
phase = "contract"


def upgrade():
    op.contract_column("accounts", "email", "contact", type_=sa.String(80))


def downgrade():
    op.expand_column("accounts", "contact", "email", type_=sa.String(80))
"""


def test_the_expand_phase_stops_before_the_first_contract_revision(project: Path, empty_database_url: str) -> None:
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    expanded = head_revision(project)
    add_revision(project, "contract", CONTRACT, stamp="29990103000000")
    config = configure(project, empty_database_url)
    upgrade(config, phase="expand")
    assert values(empty_database_url, "SELECT version_num FROM alembic_version") == [(expanded,)]
    assert "email" in {c["name"] for c in inspect(engine_for(empty_database_url)).get_columns("accounts")}
    upgrade(config)
    assert values(empty_database_url, "SELECT version_num FROM alembic_version") == [(head_revision(project),)]
    assert "email" not in {c["name"] for c in inspect(engine_for(empty_database_url)).get_columns("accounts")}
    downgrade(config, expanded)
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE email = contact") == [(ROWS,)]


def test_an_unknown_phase_is_refused_clearly(project: Path, empty_database_url: str) -> None:
    with pytest.raises(SchemakitError, match="is not a phase"):
        upgrade(configure(project, empty_database_url), phase="later")


def test_the_phase_gate_refuses_a_contract_revision_whose_column_is_still_mapped(project: Path) -> None:
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    add_revision(project, "contract", CONTRACT, stamp="29990103000000")
    config = configure(project, "sqlite://")
    assert check_phases(config).passed  # accounts is no model's table
    mapped = add_revision(
        project,
        "drop_user_email",
        """
        phase = "contract"


        def upgrade():
            op.drop_column("users", "email")


        def downgrade():
            op.add_column("users", sa.Column("email", sa.String(320)))
        """,
        stamp="29990104000000",
    )
    (finding,) = check_phases(config).findings
    assert finding.rule == "contract-still-mapped"
    assert "users.email" in finding.message
    assert (finding.file, finding.line) == (
        str(mapped.resolve()),
        mapped.read_text().splitlines().index('    op.drop_column("users", "email")') + 1,
    )
    # The lock-safety lint leaves drops to contract revisions, and reports them in any other.
    assert not [f for f in lint_operations(mapped) if f.rule == "drop"]
    mapped.write_text(mapped.read_text().replace('phase = "contract"', ""))
    assert [f.rule for f in lint_operations(mapped)] == ["drop"]


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_autogenerate_writes_online_forms_for_existing_tables_and_plain_ones_for_new_tables(
    tmp_path: Path, empty_database_url: str
) -> None:
    project = copy_project(tmp_path / "models_only")
    config = configure(project, empty_database_url)
    upgrade(config)
    engine = engine_for(empty_database_url)
    (index,) = [i for i in inspect(engine).get_indexes("orders") if i["column_names"] == ["user_id"]]
    with engine.begin() as connection:
        connection.execute(text(f'DROP INDEX "{index["name"]}"'))
        connection.execute(text("ALTER TABLE users ALTER COLUMN display_name DROP NOT NULL"))
        connection.execute(text("DROP TABLE post_tags"))
    engine.dispose()
    command.revision(config, message="catch up", autogenerate=True)
    (written,) = (project / "alembic" / "versions").glob("*catch_up.py")
    upgrade_source, downgrade_source = written.read_text().split("def downgrade()")
    name = index["name"]
    assert f'op.create_index_online(op.f("{name}"), "orders", ["user_id"], unique=False)' in upgrade_source
    assert 'op.set_not_null_online("users", "display_name")' in upgrade_source
    assert 'op.create_table(\n        "post_tags"' in upgrade_source
    assert "op.create_foreign_key" not in upgrade_source  # the new table's keys are part of its CREATE TABLE
    assert f'op.drop_index_online(op.f("{name}"), table_name="orders")' in downgrade_source
    assert 'op.drop_not_null_online("users", "display_name")' in downgrade_source
    # The lock-safety gate accepts what autogenerate wrote.
    assert check_lock_safety(config, only={str(written.resolve())}).findings == []
    # What autogenerate wrote runs, and leaves nothing for the next autogenerate to do.
    upgrade(config)
    downgrade(config, "-1")
    upgrade(config)
    capture: list[str] = []
    command.revision(with_options(config, capture_revision=capture), autogenerate=True)
    assert capture == []


def test_the_lock_safety_gate_accepts_the_online_operations(project: Path) -> None:
    written = add_revision(project, "online", ONLINE, stamp="29990102000000")
    add_revision(project, "contract", CONTRACT, stamp="29990103000000")
    config = configure(project, "sqlite://")
    result = check_lock_safety(config, only={str(written.resolve())})
    assert result.findings == []


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_a_failed_backfill_resumes_after_its_last_batch_in_key_order(project: Path, empty_database_url: str) -> None:
    accounts = head_revision(project)
    add_revision(
        project,
        "count_rows",
        """
        def upgrade():
            op.execute("CREATE TABLE IF NOT EXISTS fail_at (id integer)")
            # Fails on row 150 while fail_at holds it: batches of 40 by key are 1-40, 41-80, 81-120, 121-160.
            op.backfill(
                "accounts",
                {"counter": "counter + 1 + CASE WHEN id IN (SELECT id FROM fail_at) THEN 1 / (id - id) ELSE 0 END"},
                batch_size=40,
            )

        def downgrade():
            op.execute("DROP TABLE fail_at")
        """,
        stamp="29990102000000",
    )
    config = configure(project, empty_database_url)
    upgrade(config, accounts)
    engine = engine_for(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE fail_at (id integer)"))
        connection.execute(text("INSERT INTO fail_at VALUES (150)"))
    with pytest.raises(Exception, match="division by zero"):
        upgrade(config)
    assert values(empty_database_url, f"SELECT last_key, rows_done FROM {BACKFILL_PROGRESS_TABLE}") == [("120", 120)]
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE counter = 1") == [(120,)]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM fail_at"))
    engine.dispose()
    upgrade(config)
    assert values(empty_database_url, "SELECT min(counter), max(counter), count(*) FROM accounts") == [(1, 1, ROWS)]


def test_a_backfill_moves_updated_at_and_a_version_only_when_asked(project: Path, empty_database_url: str) -> None:
    add_revision(
        project,
        "touching",
        """
        def upgrade():
            op.backfill("accounts", {"region": "'eu'"}, where="id <= 10", touch=True, bump_version="counter")

        def downgrade():
            pass
        """,
        stamp="29990102000000",
    )
    upgrade(configure(project, empty_database_url))
    rows = values(
        empty_database_url,
        "SELECT id <= 10, min(counter), max(counter), count(DISTINCT updated_at > '2001-01-02') FROM accounts "
        "GROUP BY id <= 10 ORDER BY 1",
    )
    # The ten rows asked for got a new updated_at and a bumped counter; the rest were left alone.
    assert [(bool(r[0]), *r[1:]) for r in rows] == [(False, 0, 0, 1), (True, 1, 1, 1)]
    assert values(empty_database_url, "SELECT count(*) FROM accounts WHERE updated_at > '2001-01-02'") == [(10,)]


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_a_connection_inside_the_callers_transaction_gets_the_plain_forms(
    project: Path, empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    add_revision(project, "online", ONLINE, stamp="29990102000000")
    engine = engine_for(empty_database_url)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # the caller's transaction has begun
        upgrade(configure(project, empty_database_url), connection=connection)
        connection.commit()
    engine.dispose()
    assert shape(empty_database_url) == APPLIED
    assert "in their plain form" in caplog.text
