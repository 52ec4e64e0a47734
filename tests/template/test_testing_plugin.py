"""schemakit's pytest plugin, run by pytester on a sample project made from the template."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from schemakit.provisioning import sweep_stale_clusters
from schemakit.testing.databases import TestDatabaseError, check_disposable

ROOT = Path(__file__).parent.parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = {fixture_scope}
asyncio_default_test_loop_scope = function
filterwarnings = error
"""

SAMPLE_TESTS = """
import pytest
from sqlalchemy import func, select, text

from example_app.models import User
from schemakit import make_engine, make_session_factory, make_async_session_factory


def count(session):
    return session.scalar(select(func.count()).select_from(User))


def test_a_commits(db_session):
    db_session.add(User(email="a@example.test", display_name="A"))
    db_session.commit()
    assert count(db_session) == 1


def test_b_sees_nothing_of_a(db_session):
    assert count(db_session) == 0


def test_the_app_factory_is_bound(bind_session_factory, schemakit_engine, db_session):
    factory = bind_session_factory(make_session_factory(schemakit_engine))
    with factory() as session:
        session.add(User(email="b@example.test", display_name="B"))
        session.commit()
    assert count(db_session) == 1


def test_c_sees_nothing_of_the_app(db_session):
    assert count(db_session) == 0


async def test_async_session(async_db_session, bind_async_session_factory, schemakit_async_engine):
    async_db_session.add(User(email="c@example.test", display_name="C"))
    await async_db_session.commit()
    factory = bind_async_session_factory(make_async_session_factory(schemakit_async_engine))
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


def test_committed_database(db_committed, schemakit_database):
    assert db_committed.url.database != schemakit_database.url.database
    engine = make_engine(db_committed.settings)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (email, display_name) VALUES ('d@example.test', 'D')"))
    with engine.connect() as other:
        assert other.scalar(text("SELECT count(*) FROM users")) == 1
    engine.dispose()


@pytest.mark.requires_postgres
def test_postgres_only(db_connection):
    assert db_connection.dialect.name == "postgresql"
"""


@pytest.fixture
def sample(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A project with the template's migrations, the plugin enabled, and the sample tests."""
    shutil.copytree(ROOT / "alembic", pytester.path / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", pytester.path / "alembic.ini")
    pytester.makeconftest('pytest_plugins = ["schemakit.testing.plugin"]')
    pytester.makeini(INI.format(fixture_scope="function"))
    pytester.makepyfile(test_sample=SAMPLE_TESTS)
    environment = request.getfixturevalue("schemakit_test_environment")
    for variable in ("SCHEMAKIT_TEST_SERVER", "SCHEMAKIT_TEST_SOURCE", "SCHEMAKIT_TEST_RUN", "TEST_DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    if environment.backend == "postgresql":
        server = environment.databases.server.render_as_string(hide_password=False)
        monkeypatch.setenv("TEST_DATABASE_URL", server)
    return pytester


def header(result: pytest.RunResult) -> str:
    return next(line for line in result.outlines if line.startswith("schemakit: "))


@pytest.mark.requires_postgres
def test_isolation_fixtures_on_postgres(sample: pytest.Pytester) -> None:
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    assert re.match(r"schemakit: postgresql from TEST_DATABASE_URL \(postgresql\+psycopg://postgres@", header(result))
    again = sample.runpytest_subprocess("-p", "no:cacheprovider")
    again.assert_outcomes(passed=7)
    assert header(again).endswith("(reused)")


@pytest.mark.requires_postgres
def test_a_changed_migration_builds_a_new_template(sample: pytest.Pytester) -> None:
    first = sample.runpytest_subprocess()
    first.assert_outcomes(passed=7)
    template = re.search(r"template (\S+)", header(first))
    (revision,) = (sample.path / "alembic" / "versions").glob("*add_order_numbers.py")
    revision.write_text(revision.read_text() + "\n# changed\n")
    second = sample.runpytest_subprocess()
    second.assert_outcomes(passed=7)
    assert template is not None
    assert template.group(1) not in header(second)
    assert "migrated in" in header(second)


@pytest.mark.requires_postgres
def test_each_xdist_worker_gets_its_own_clone(sample: pytest.Pytester) -> None:
    sample.makeconftest(
        textwrap.dedent(
            """
            import os
            from pathlib import Path

            import pytest

            pytest_plugins = ["schemakit.testing.plugin"]


            @pytest.fixture(autouse=True)
            def record(schemakit_database):
                worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
                (Path(__file__).parent / f"databases-{worker}.txt").write_text(str(schemakit_database.url.database))
            """
        )
    )
    sample.makepyfile(test_spread="".join(f"def test_{n}():\n    pass\n\n\n" for n in range(20)))
    result = sample.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=27)
    names = {path.read_text() for path in sample.path.glob("databases-*.txt")}
    assert len(names) == 2, names
    assert all(re.fullmatch(r"\w+_test_[0-9a-f]{10}_gw[01]", name) for name in names), names  # a run id, not a pid


def test_sqlite_mode_runs_the_same_fixtures(sample: pytest.Pytester) -> None:
    result = sample.runpytest_subprocess("--schemakit-backend", "sqlite", "-rs")
    result.assert_outcomes(passed=6, skipped=1)
    assert header(result).startswith("schemakit: sqlite from SQLite files")
    assert re.search(r"SKIPPED .*needs PostgreSQL; running on SQLite \(sqlite backend chosen\)", result.stdout.str())


def test_mismatched_loop_scopes_fail_clearly(sample: pytest.Pytester) -> None:
    sample.makeini(INI.format(fixture_scope="session"))
    result = sample.runpytest_subprocess("--schemakit-backend", "sqlite", "-k", "async")
    result.assert_outcomes(errors=1)
    assert "schemakit's async fixtures run in the 'session' event loop" in result.stdout.str()
    assert "attached to a different loop" not in result.stdout.str()


@pytest.mark.requires_postgres
def test_the_testing_docs_sample_passes(sample: pytest.Pytester) -> None:
    (code,) = re.findall(r"```python\n(from sqlalchemy.*?)```", (ROOT / "docs" / "testing.md").read_text(), re.DOTALL)
    sample.makepyfile(test_sample=code)
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_plan_check_docs_sample_passes(sample: pytest.Pytester) -> None:
    page = (ROOT / "docs" / "inspect.md").read_text()
    (code,) = re.findall(r"```python\n(from sqlalchemy.*?query_plans.*?)```", page, re.DOTALL)
    sample.makepyfile(test_plans_sample=code)
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "test_plans_sample.py")
    result.assert_outcomes(passed=1)


def test_a_remote_server_is_refused_unless_allowed(sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://app:secret@db.example.test/postgres")
    result = sample.runpytest_subprocess()
    assert result.ret != 0
    assert "refusing to create or drop databases on db.example.test" in result.stderr.str()
    assert "secret" not in result.stderr.str() + result.stdout.str()


def test_an_unreachable_server_is_one_line(sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://nobody:S3cret@127.0.0.1:1/postgres")
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    output = result.stderr.str() + result.stdout.str()
    assert result.ret != 0
    assert "schemakit: cannot use the test database server TEST_DATABASE_URL (" in result.stderr.str()
    assert "INTERNALERROR" not in output
    assert "S3cret" not in output


def without_postgres(monkeypatch: pytest.MonkeyPatch, empty: Path) -> None:
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setenv("SCHEMAKIT_POSTGRES_BIN", str(empty))


def test_ci_fails_without_postgres(sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    without_postgres(monkeypatch, tmp_path)
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "CI=true but no PostgreSQL for the tests" in result.stderr.str()
    assert f"SCHEMAKIT_POSTGRES_BIN is {tmp_path}, which holds no initdb and pg_ctl" in result.stderr.str()


def test_outside_ci_a_missing_postgres_falls_back_loudly(
    sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    without_postgres(monkeypatch, tmp_path)
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, skipped=1)
    assert any("PostgreSQL UNAVAILABLE" in line for line in result.outlines)
    assert "schemakit: PostgreSQL unavailable, ran on SQLite" in result.stdout.str()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://u@127.0.0.1/app", "carry '_test' in their name"),
        ("postgresql://u@127.0.0.1/contest", "carry '_test' in their name"),
        ("postgresql://u@db.example.test/app_test", "not this machine"),
        ("sqlite:////tmp/app.db", "carry '_test' in their name"),
    ],
)
def test_destructive_steps_refuse_other_databases(url: str, problem: str) -> None:
    from sqlalchemy.engine import make_url

    with pytest.raises(TestDatabaseError, match=problem):
        check_disposable(make_url(url))
    check_disposable(make_url("postgresql://u@db.example.test/app_test"), frozenset({"db.example.test"}))
    check_disposable(make_url("postgresql://u@localhost/app_test_gw0"))


def test_stale_clusters_are_swept(tmp_path: Path) -> None:
    dead = tempfile.mkdtemp(prefix="schemakit-pg-")
    (Path(dead) / "owner.pid").write_text("999999999")
    alive = tempfile.mkdtemp(prefix="schemakit-pg-")
    (Path(alive) / "owner.pid").write_text(str(os.getpid()))
    try:
        removed = sweep_stale_clusters(tmp_path)
        assert Path(dead) in removed
        assert not Path(dead).exists()
        assert Path(alive).exists()
    finally:
        shutil.rmtree(alive, ignore_errors=True)


def test_asking_for_a_container_without_testcontainers_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from schemakit.provisioning import PostgresUnavailableError, provide_postgres

    if importlib.util.find_spec("testcontainers") is not None:
        pytest.skip("testcontainers is installed here")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    with (
        pytest.raises(PostgresUnavailableError, match=r"pip install schemakit\[containers\]"),
        provide_postgres(container=True),
    ):
        pass
