"""Each quality gate fails on a small broken history and passes on the template."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from schemakit import DatabaseSettings
from schemakit.engine import make_utility_engine
from schemakit.gates import (
    Finding,
    added_since,
    check_drift,
    check_history,
    check_integrity_against_database,
    check_integrity_against_git,
    check_lock_safety,
    check_naming,
    check_round_trip,
    lint_operations,
)
from schemakit.gates.catalog import SchemaReader, application_tables, describe, snapshot
from schemakit.migrations import downgrade, upgrade
from schemakit.migrations.options import with_options
from tests.projects import add_revision, configure, copy_project, scripts
from tests.template.test_template_gates import schemakit_check


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def rules(findings: list[Finding]) -> list[str]:
    return [finding.rule for finding in findings]


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_history_finds_an_empty_downgrade_two_heads_and_bad_names(project: Path) -> None:
    empty = add_revision(
        project, "add_flag", "def upgrade():\n    op.execute('SELECT 1')\n\n\ndef downgrade():\n    pass\n"
    )
    add_revision(
        project,
        "Second Head",
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
        down=scripts(project).get_bases()[0],
        stamp="2999",
    )
    result = check_history(scripts(project))
    assert sorted(rules(result.findings)) == ["empty-downgrade", "empty-downgrade", "file-name", "several-heads"]
    by_rule = {finding.rule: finding for finding in result.findings if finding.file == str(empty.resolve())}
    assert by_rule["empty-downgrade"].line == line_of(empty, "def downgrade")
    assert check_history(scripts(copy_project(project.parent / "clean"))).passed


def test_round_trip_finds_a_leftover_trigger(project: Path, empty_database_url: str, dialect: str) -> None:
    create = {
        "postgresql": [
            "CREATE TYPE mood AS ENUM ('calm', 'cross')",
            "CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER extra BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION nothing()",
        ],
        "sqlite": ["CREATE TRIGGER extra AFTER INSERT ON users BEGIN SELECT 1; END"],
    }[dialect]
    body = "def upgrade():\n" + "".join(f"    op.execute({sql!r})\n" for sql in create)
    body += "\n\ndef downgrade():\n    op.execute('SELECT 1')  # forgets what upgrade made\n"
    path = add_revision(project, "leftovers", body)
    config = configure(project, empty_database_url)
    settings = DatabaseSettings(database_url=empty_database_url, _env_file=None)
    result = check_round_trip(config, settings)
    leaves = [f for f in result.findings if f.rule == "downgrade-leaves-behind"]
    assert len(leaves) == 1
    assert leaves[0].file == str(path.resolve())
    assert leaves[0].line == line_of(path, "def downgrade")
    assert "trigger users.extra" in leaves[0].message
    if dialect == "postgresql":
        assert "enum type mood" in leaves[0].message
        assert "function nothing()" in leaves[0].message


def _round_trip(project: Path, url: str, *, only: set[str] | None = None) -> list[Finding]:
    settings = DatabaseSettings(database_url=url, _env_file=None)
    return check_round_trip(configure(project, url), settings, only=only).findings


def test_round_trip_names_a_downgrade_that_removes_too_much(project: Path, empty_database_url: str) -> None:
    body = "def upgrade():\n    op.execute('SELECT 1')\n\n\ndef downgrade():\n"
    body += "    with op.batch_alter_table('users') as batch:\n        batch.drop_column('display_name')\n"
    path = add_revision(project, "drops_a_column", body)
    (finding,) = _round_trip(project, empty_database_url)
    assert (finding.rule, finding.file) == ("downgrade-removes-too-much", str(path.resolve()))
    assert "column users.display_name" in finding.message


def test_round_trip_names_the_downgrade_that_fails(project: Path, empty_database_url: str) -> None:
    failing = add_revision(
        project, "fails_down", "def upgrade():\n    pass\n\n\ndef downgrade():\n    op.execute('SELECT * FROM gone')\n"
    )
    nothing = "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    add_revision(project, "after_it", nothing, stamp="29990102000000")
    (finding,) = _round_trip(project, empty_database_url)
    assert (finding.rule, finding.file) == ("downgrade-fails", str(failing.resolve()))
    assert finding.line == line_of(failing, "def downgrade")
    assert "gone" in finding.message


def test_round_trip_finds_an_upgrade_that_cannot_run_again(project: Path, empty_database_url: str) -> None:
    body = "def upgrade():\n    op.execute('CREATE TABLE notes (id integer)')\n\n\n"
    body += "def downgrade():\n    op.execute('SELECT 1')\n"
    add_revision(project, "keeps_notes", body)
    assert rules(_round_trip(project, empty_database_url)) == ["downgrade-leaves-behind", "upgrade-not-repeatable"]


@pytest.mark.parametrize("checked", ["leaky", "clean"])
def test_round_trip_checks_only_the_revisions_asked_for(project: Path, empty_database_url: str, checked: str) -> None:
    body = "def upgrade():\n    op.execute('CREATE TABLE IF NOT EXISTS notes (id integer)')\n\n\n"
    body += "def downgrade():\n    op.execute('SELECT 1')\n"
    revisions = {"leaky": add_revision(project, "keeps_notes", body)}
    revisions["clean"] = add_revision(
        project,
        "adds_labels",
        "def upgrade():\n    op.execute('CREATE TABLE labels (id integer)')\n\n\n"
        "def downgrade():\n    op.execute('DROP TABLE labels')\n",
        stamp="29990102000000",
    )
    path = str(revisions[checked].resolve())
    findings = _round_trip(project, empty_database_url, only={path})
    expected = [("downgrade-leaves-behind", path)] if checked == "leaky" else []
    assert [(f.rule, f.file) for f in findings] == expected


def test_drift_prints_the_migration_it_would_write(project: Path, empty_database_url: str, dialect: str) -> None:
    (project / "alembic" / "env.py").write_text(
        "from sqlalchemy import Column, MetaData, String\n"
        "from tests.library.models import LibraryBase as Base\n"
        "from schemakit.migrations import run_migrations\n\n"
        "metadata = MetaData(naming_convention=Base.metadata.naming_convention)\n"
        "for table in Base.metadata.sorted_tables:\n"
        "    table.to_metadata(metadata)\n"
        "metadata.tables['users'].append_column(Column('nickname', String(30)))\n"
        "run_migrations(metadata)\n"
    )
    settings = DatabaseSettings(database_url=empty_database_url, _env_file=None)
    result = check_drift(configure(project, empty_database_url), settings)
    (finding,) = result.findings
    assert finding.rule == "models-differ"
    # On PostgreSQL a column added to an existing table is written in its online form.
    operation = "add_column_online" if dialect == "postgresql" else "add_column"
    assert f"op.{operation}('users', sa.Column('nickname', sa.String(length=30), nullable=True))" in (
        finding.detail or ""
    )
    assert check_drift(configure(copy_project(project.parent / "clean"), empty_database_url), settings).passed


def test_gates_leave_the_callers_config_as_it_was(project: Path, empty_database_url: str, dialect: str) -> None:
    config = configure(project, empty_database_url)
    before = dict(config.attributes)
    settings = DatabaseSettings.for_url(empty_database_url)
    check_round_trip(config, settings)
    check_drift(config, settings)
    if dialect == "postgresql":
        check_lock_safety(config)
    assert config.attributes == before
    assert config.output_buffer is None


def test_naming_finds_bad_names_missing_ondelete_and_unindexed_keys(project: Path, empty_database_url: str) -> None:
    path = add_revision(
        project,
        "add_notes",
        """
        def upgrade():
            op.create_table(
                "note",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("created_at", sa.DateTime(timezone=True)),
                sa.Column("updated_at", sa.DateTime(timezone=True)),
                sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", name="fk_note_user_id_users")),
                sa.Column("Body", sa.Text),
                sa.PrimaryKeyConstraint("id", name="pk_note"),
            )
            op.create_index("users_by_name", "users", ["display_name"])

        def downgrade():
            op.drop_index("users_by_name", table_name="users")
            op.drop_table("note")
        """,
    )
    upgrade(configure(project, empty_database_url))
    engine = make_utility_engine(DatabaseSettings.for_url(empty_database_url))
    with engine.connect() as connection:
        # Only the new revision: the library's own test models break the conventions on purpose.
        files = [Path(s.path) for s in scripts(project).walk_revisions()]
        result = check_naming(connection, files, only={str(path.resolve())})
    engine.dispose()
    assert sorted(rules(result.findings)) == [
        "column-name",
        "index-name",
        "ondelete",
        "plural",
        "unindexed-foreign-key",
    ]
    index = next(f for f in result.findings if f.rule == "index-name")
    assert index.message == "users_by_name on users should be named idx_users_display_name"
    assert (index.file, index.line) == (str(path.resolve()), line_of(path, 'op.create_index("users_by_name"'))


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_lock_safety_finds_an_index_built_without_concurrently(project: Path, dialect: str) -> None:
    del dialect
    path = add_revision(
        project,
        "index_names",
        """
        def upgrade():
            op.create_index(op.f("idx_users_display_name"), "users", ["display_name"])

        def downgrade():
            op.drop_index(op.f("idx_users_display_name"), table_name="users")
        """,
    )
    config = configure(project, "postgresql://offline@localhost/offline")
    result = check_lock_safety(config)
    ours = [f for f in result.findings if f.file == str(path.resolve())]
    assert {f.rule for f in ours} == {"index-not-concurrent", "require-concurrent-index-creation"}
    lint = next(f for f in ours if f.rule == "index-not-concurrent")
    assert lint.line == line_of(path, "op.create_index")
    squawk = next(f for f in ours if f.rule == "require-concurrent-index-creation")
    assert squawk.detail == "CREATE INDEX idx_users_display_name ON users (display_name);"
    others = [f for f in result.findings if f.file != str(path.resolve())]
    assert others == []  # the template's revisions are linted one at a time and pass


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_squawk_judges_for_the_given_postgres_version(project: Path, dialect: str) -> None:
    del dialect
    path = add_revision(
        project,
        "add_rank",
        """
        def upgrade():
            op.add_column("users", sa.Column("rank", sa.Integer, nullable=True, server_default="0"))

        def downgrade():
            op.drop_column("users", "rank")
        """,
    )
    config = configure(project, "postgresql://offline@localhost/offline")

    def squawk_rules(version: int) -> set[str]:
        findings = check_lock_safety(config, postgres_version=version).findings
        return {f.rule for f in findings if f.file == str(path.resolve()) and f.rule != "index-not-concurrent"}

    # A default on a new column rewrote the table before PostgreSQL 11 and is free since.
    assert "adding-field-with-default" in squawk_rules(10)
    assert "adding-field-with-default" not in squawk_rules(15)


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_squawk_findings_point_at_the_statement_and_a_note_covers_it_alone(project: Path, dialect: str) -> None:
    del dialect
    path = add_revision(
        project,
        "uniques",
        """
        def upgrade():
            # schemakit: allow constraint-missing-not-valid, disallowed-unique-constraint -- users is empty here
            op.create_unique_constraint("uq_users_display_name", "users", ["display_name"])
            op.execute("SELECT 1")
            op.create_unique_constraint("uq_orders_total", "orders", ["total"])

        def downgrade():
            op.drop_constraint("uq_orders_total", "orders")
            op.drop_constraint("uq_users_display_name", "users")
        """,
    )
    config = configure(project, "postgresql://offline@localhost/offline")
    ours = [f for f in check_lock_safety(config).findings if f.file == str(path.resolve())]
    assert ours, "the unannotated unique constraint on orders is reported"
    assert {f.line for f in ours} == {line_of(path, 'op.create_unique_constraint("uq_orders_total"')}
    assert all("orders" in (f.detail or "") for f in ours)


def test_a_renamed_version_table_is_bookkeeping_to_the_gates(project: Path, empty_database_url: str) -> None:
    env = project / "alembic" / "env.py"
    env.write_text(
        env.read_text().replace(
            "run_migrations(LibraryBase.metadata)",
            'run_migrations(LibraryBase.metadata, version_table="schema_versions")',
        )
    )
    upgrade(configure(project, empty_database_url))
    engine = make_utility_engine(DatabaseSettings.for_url(empty_database_url))
    with engine.connect() as connection:
        assert "schema_versions" in inspect(connection).get_table_names()
        assert "schema_versions" not in application_tables(inspect(connection))
        assert not [obj for obj in snapshot(connection) if "schema_versions" in obj[1]]
    engine.dispose()


def test_allow_markers_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "29990101000000_markers.py"
    path.write_text(
        "def upgrade():\n"
        "    # schemakit: allow index-not-concurrent -- the table is created empty by the previous revision\n"
        "    op.create_index('idx_a_b', 'a', ['b'])\n"
        "    op.create_index('idx_a_c', 'a', ['c'])  # schemakit: allow index-not-concurrent\n"
        "    op.drop_column('a', 'd')\n"
        "    op.add_column('a', sa.Column('e', sa.Integer, nullable=False))\n"
        "    op.add_column('a', sa.Column('s', TSVECTOR, sa.Computed('to_tsvector(t)'), nullable=False))\n"
        "    op.create_foreign_key('fk', 'a', 'b', ['x'], ['id'])\n"
        "    op.alter_column('a', 'f', type_=sa.BigInteger)\n"
        "    op.alter_column('a', 'g', new_column_name='h')\n"
        "    with op.batch_alter_table('a') as batch_op:\n"
        "        batch_op.create_index('idx_a_i', ['i'])\n"
    )
    findings = lint_operations(path)
    assert [(f.rule, f.line) for f in findings] == [
        ("marker-without-reason", 4),
        ("index-not-concurrent", 4),
        ("drop", 5),
        ("not-null-no-default", 6),
        ("constraint-not-valid", 8),
        ("column-type-change", 9),
        ("rename", 10),
        ("index-not-concurrent", 12),
    ]


def test_integrity_against_a_database(project: Path, empty_database_url: str) -> None:
    upgrade(configure(project, empty_database_url))
    (revision,) = (project / "alembic" / "versions").glob("*_create_the_library_test_tables.py")
    engine = make_utility_engine(DatabaseSettings.for_url(empty_database_url))
    with engine.connect() as connection:
        assert check_integrity_against_database(scripts(project), connection).passed
        revision.write_text(revision.read_text() + "\n# edited\n")
        (finding,) = check_integrity_against_database(scripts(project), connection).findings
    engine.dispose()
    assert finding.rule == "edited-after-apply"
    assert finding.file == str(revision.resolve())


def git(folder: Path, *arguments: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *arguments],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def test_a_baseline_checks_only_newer_revisions_and_keeps_older_ones_unedited(project: Path) -> None:
    old = add_revision(
        project, "Badly Named Old", "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n", stamp="2998"
    )
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "baseline")
    new = add_revision(
        project, "new_one", "def upgrade():\n    op.execute('SELECT 1')\n\n\ndef downgrade():\n    pass\n"
    )
    only = added_since(scripts(project), "HEAD")
    assert only == {str(new.resolve())}
    assert rules(check_history(scripts(project), only=only).findings) == ["empty-downgrade"]
    assert sorted(rules(check_history(scripts(project)).findings)) == [
        "empty-downgrade",
        "empty-downgrade",
        "file-name",
    ]
    assert check_integrity_against_git(scripts(project), "HEAD").passed
    old.write_text(old.read_text() + "\n# edited after merge\n")
    (finding,) = check_integrity_against_git(scripts(project), "HEAD").findings
    assert (finding.rule, finding.file) == ("edited-after-merge", str(old.resolve()))


def test_the_command_reports_and_exits(project: Path, dialect: str) -> None:
    add_revision(project, "add_flag", "def upgrade():\n    op.execute('SELECT 1')\n\n\ndef downgrade():\n    pass\n")
    failing = schemakit_check("--backend", dialect, cwd=project)
    assert failing.returncode == 1
    assert "FAIL  history" in failing.stdout
    assert "alembic/versions/29990101000000_add_flag.py:" in failing.stdout
    assert "[empty-downgrade]" in failing.stdout
    unusable = schemakit_check("--since", "no-such-ref", cwd=project)
    assert unusable.returncode == 2
    assert "schemakit check: git" in unusable.stderr


def test_the_command_says_when_the_applied_database_is_unreachable(project: Path) -> None:
    result = schemakit_check(
        "--backend", "sqlite", "--applied-to", "postgresql://nobody:S3cret@127.0.0.1:1/app", cwd=project
    )
    assert result.returncode == 2
    assert result.stderr.startswith("schemakit check: cannot connect to postgresql://nobody:***@127.0.0.1:1/app")
    assert "Traceback" not in result.stderr
    assert "S3cret" not in result.stderr + result.stdout


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def test_the_schema_read_step_by_step_is_the_whole_schema_at_every_step(
    project: Path, empty_database_url: str, dialect: str
) -> None:
    del dialect
    add_revision(
        project,
        "reshape",
        """
        def upgrade():
            op.add_column("users", sa.Column("nickname", sa.String(30)))
            op.create_index("idx_users_nickname", "users", ["nickname"])
            op.rename_table("tags", "labels")
            op.drop_table("post_tags")
            op.execute("CREATE TYPE mood AS ENUM ('calm')")
            op.execute("CREATE SEQUENCE tickets")

        def downgrade():
            op.execute("DROP SEQUENCE tickets")
            op.execute("DROP TYPE mood")
            op.create_table("post_tags", sa.Column("post_id", sa.Uuid(), primary_key=True))
            op.rename_table("labels", "tags")
            op.drop_index("idx_users_nickname", "users")
            op.drop_column("users", "nickname")
        """,
    )
    engine = make_utility_engine(DatabaseSettings.for_url(empty_database_url))
    compared = []
    with engine.connect() as connection:
        reader = SchemaReader(connection)

        def compare(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            compared.append((reader.read(), snapshot(ctx.connection)))

        config = with_options(configure(project, empty_database_url), on_version_apply=[compare])
        upgrade(config, "heads", connection=connection)
        downgrade(config, "base", connection=connection)
        reader.close()
    engine.dispose()
    assert len(compared) == 2 * len(list(scripts(project).walk_revisions()))
    assert all(step == whole for step, whole in compared)
    assert any("column users.nickname" in describe(step) for step, _ in compared)
