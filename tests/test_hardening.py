"""Secrets never leak, and the seed guard judges the host the driver really reaches.

A throwaway cluster on 127.0.0.2 stands for a remote server: a loopback address, so no traffic leaves the
machine, but not one the guard counts as this machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, text
from sqlalchemy.engine import make_url

from schemakit import AppEnv, DatabaseSettings, make_engine
from schemakit.hosts import connection_hosts, remote_hosts
from schemakit.migrations import make_config, upgrade
from schemakit.provisioning import ThrowawayCluster, find_server_binaries
from tests.projects import LIBRARY, LIBRARY_INI

PASSWORD = "S3cret"
REMOTE = "127.0.0.2"


@pytest.fixture(scope="module")
def remote_server() -> Iterator[URL]:
    binaries = find_server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries to start a cluster on 127.0.0.2")
    with ThrowawayCluster(binaries, host=REMOTE) as cluster:
        admin = make_engine(DatabaseSettings.for_url(cluster.url), pool=False, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE shop_test"))
        admin.dispose()
        database = cluster.url.set(database="shop_test")
        upgrade(make_config(LIBRARY_INI, settings=DatabaseSettings.for_url(database, app_env=AppEnv.TEST)))
        yield database


def seed_command(url: str, app_env: str | None, **environ: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("APP_ENV", "PGHOST")}
    environment |= {"DATABASE_URL": url, **environ}
    if app_env:
        environment["APP_ENV"] = app_env
    return subprocess.run(
        [sys.executable, "-m", "schemakit.cli", "seed", "--models", "tests.library.models", "--fixtures",
         str(LIBRARY / "fixtures")],
        cwd=LIBRARY.parent.parent, env=environment, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def users(url: URL) -> int:
    engine = make_engine(DatabaseSettings.for_url(url), pool=False)
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM users"))
    engine.dispose()
    return int(count or 0)


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("postgresql://u@localhost/db?host=127.0.0.2", {}, ["127.0.0.2"]),
        ("postgresql://u@localhost/db?hostaddr=127.0.0.2&host=localhost", {}, ["127.0.0.2"]),
        ("postgresql:///db", {"PGHOST": "127.0.0.2"}, ["127.0.0.2"]),
        ("postgresql:///db", {"PGHOST": "/var/run/postgresql,127.0.0.2"}, ["127.0.0.2"]),
        ("postgresql://u@127.0.0.1,127.0.0.2/db", {}, ["127.0.0.2"]),
        ("postgresql:///db?service=prod", {}, ["the host of libpq service 'prod'"]),
        ("postgresql:///db", {}, []),
        ("postgresql://u@127.0.0.1/db", {"PGHOST": "127.0.0.2"}, []),
    ],
)
def test_the_guard_sees_the_hosts_the_driver_connects_to(
    url: str, environ: dict[str, str], expected: list[str]
) -> None:
    assert remote_hosts(make_url(url), environ) == expected
    assert connection_hosts(make_url("postgresql:///db"), {}) == [""]


@pytest.mark.requires_postgres
@pytest.mark.parametrize(
    ("variant", "environ"),
    [("query host", {}), ("PGHOST", {"PGHOST": REMOTE})],
)
def test_a_remote_database_behind_a_local_looking_url_is_not_seeded(
    remote_server: URL, variant: str, environ: dict[str, str]
) -> None:
    port = remote_server.port
    if variant == "query host":
        url = f"postgresql://postgres@localhost:{port}/shop_test?host={REMOTE}"
    else:
        url = f"postgresql://postgres@:{port}/shop_test"
    result = seed_command(url, "development", **environ)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"the database is on another host ({REMOTE}) while APP_ENV is development" in result.stderr
    assert users(remote_server) == 0


def test_an_unreachable_remote_host_is_refused_before_connecting() -> None:
    result = seed_command(f"postgresql://app:{PASSWORD}@{REMOTE}:1/shop", "development")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"the database is on another host ({REMOTE})" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_python_fixtures_do_not_run_before_the_guard_decides(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "users.py").write_text(f"open({str(marker)!r}, 'w').close()\nFIXTURE = None\n")
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    environment |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", "APP_ENV": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "schemakit.cli", "seed", "--models", "tests.library.models", "--fixtures",
         str(tmp_path / "fixtures")],
        cwd=LIBRARY.parent.parent, env=environment, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "APP_ENV is production" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql://app:{PASSWORD}/appdb", "not a SQLAlchemy database URL"),
        (f"postgresql://app:p@ss:{PASSWORD}@127.0.0.1/app", "percent-encode '@' in the password as %40"),
        (f"postgresql://app:p@{PASSWORD}@127.0.0.1/app", "percent-encode '@' in the password as %40"),
        (f"postgresql://app:{PASSWORD}@127.0.0.1:99999/app", "the port 99999 is out of range"),
    ],
)
def test_a_malformed_url_never_echoes_the_password(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="database_url") as refused:
        DatabaseSettings(database_url=url, _env_file=None)
    assert message in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_unusable_timeouts_are_refused() -> None:
    with pytest.raises(ValueError, match="statement_timeout_ms"):
        DatabaseSettings(statement_timeout_ms=99_999_999_999, _env_file=None)
