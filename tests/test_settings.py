import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemakit import AppEnv, DatabaseSettings

ENV_EXAMPLE = Path(__file__).parent.parent / ".env.example"
SECRET_URL = "postgresql://app:hunter2-secret@db.internal:5432/shop"


def load(**environment: str) -> DatabaseSettings:
    return DatabaseSettings(_env_file=None, **environment)


def test_defaults_are_a_local_sqlite_file_in_development() -> None:
    settings = load()
    assert settings.dialect == "sqlite"
    assert settings.sync_url.render_as_string() == "sqlite+pysqlite:///./app.db"
    assert settings.async_url.render_as_string() == "sqlite+aiosqlite:///./app.db"
    assert settings.app_env is AppEnv.DEVELOPMENT


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", SECRET_URL)
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("DB_POOL_SIZE", "12")
    monkeypatch.setenv("DB_PGBOUNCER", "true")
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "2500")
    settings = load()
    assert (settings.app_env, settings.pool_size, settings.pgbouncer) == (AppEnv.STAGING, 12, True)
    assert settings.statement_timeout_ms == 2500
    assert settings.url.host == "db.internal"


def test_a_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("APP_ENV=test\nDB_SLOW_QUERY_MS=250\n")
    monkeypatch.chdir(tmp_path)
    settings = DatabaseSettings()
    assert (settings.app_env, settings.slow_query_ms) == (AppEnv.TEST, 250)


@pytest.mark.parametrize(
    ("given", "sync", "async_"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        (
            "postgresql://u@h/db?sslmode=require",
            "postgresql+psycopg://u@h/db?sslmode=require",
            "postgresql+asyncpg://u@h/db?ssl=require",
        ),
        (
            "postgresql+asyncpg://u@h/db?ssl=require",
            "postgresql+psycopg://u@h/db?sslmode=require",
            "postgresql+asyncpg://u@h/db?ssl=require",
        ),
        ("sqlite:///x.db", "sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite://", "sqlite+pysqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_sync_and_async_urls_are_derived(given: str, sync: str, async_: str) -> None:
    settings = load(DATABASE_URL=given)
    assert settings.sync_url.render_as_string(hide_password=False) == sync
    assert settings.async_url.render_as_string(hide_password=False) == async_


def test_passwords_with_special_characters_survive() -> None:
    settings = load(DATABASE_URL="postgresql://u:p%40ss%25word@h/db")
    assert settings.async_url.password == "p@ss%word"
    assert settings.sync_url.password == "p@ss%word"


def test_the_url_never_shows_in_repr_or_str() -> None:
    settings = load(DATABASE_URL=SECRET_URL)
    for text in (repr(settings), str(settings), str(settings.sync_url), repr(settings.async_url)):
        assert "hunter2" not in text
    assert settings.masked_url() == "postgresql://app:***@db.internal:5432/shop"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "not a url", "not a SQLAlchemy database URL"),
        ("DATABASE_URL", "mysql://root:hunter2-secret@h/db", "unsupported database 'mysql'"),
        ("APP_ENV", "prod", "development"),
        ("DB_POOL_SIZE", "0", "greater than or equal to 1"),
        ("DB_POOL_SIZE", "many", "valid integer"),
        ("DB_LOCK_TIMEOUT_MS", "-5", "greater than or equal to 0"),
        ("DB_PGBOUNCER", "perhaps", "valid boolean"),
        ("DB_APPLICATION_NAME", "x" * 64, "at most 63 characters"),
        ("DB_REPLICA_URLS", "sqlite:///replica.db", "read replicas are PostgreSQL servers"),
        ("DB_REPLICA_URLS", "postgresql://app:hunter2@h/db,nonsense", "not a SQLAlchemy database URL"),
        ("DB_REPLICA_URLS", "[not json", "not a JSON list of URLs"),
        ("DB_REPLICA_MAX_LAG_S", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_values_name_the_variable_and_hide_the_input(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        load()
    text = str(caught.value)
    assert re.search(rf"^{variable}$", text, re.MULTILINE), text
    assert message in text
    assert "hunter2" not in text


def test_replica_urls_come_comma_separated_or_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:secret@primary.test/app")
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    monkeypatch.setenv("DB_REPLICA_URLS", " postgresql://app:secret@r1.test/app , postgresql://app:secret@r2.test/app")
    replicas = load().for_replicas()
    assert [replica.url.host for replica in replicas] == ["r1.test", "r2.test"]
    assert {replica.pool_size for replica in replicas} == {7}
    assert all(replica.replica_urls == () for replica in replicas)
    monkeypatch.setenv("DB_REPLICA_URLS", '["postgresql://app:secret@r3.test/app"]')
    assert [replica.url.host for replica in load().for_replicas()] == ["r3.test"]
    monkeypatch.setenv("DB_REPLICA_URLS", "")
    assert load().for_replicas() == []
    assert "secret" not in repr(load())


def test_settings_are_immutable() -> None:
    settings = load()
    with pytest.raises(ValidationError):
        settings.pool_size = 3  # type: ignore[misc]


def test_env_example_lists_every_variable() -> None:
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    variables = {field.alias for field in DatabaseSettings.model_fields.values()}
    assert variables <= listed, f"missing from .env.example: {sorted(variables - listed)}"
    assert listed <= variables, f"listed in .env.example but not read: {sorted(listed - variables)}"


def test_env_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    assert load().database_url.get_secret_value() == "sqlite:///./app.db"
