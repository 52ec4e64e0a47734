"""Database settings read from the environment (and a ``.env`` file), with pydantic-settings.

Every variable is listed, with a comment, in the template's ``.env.example``. The database URL is kept as a
secret: it never appears in ``repr()``, logs or validation errors; use :attr:`DatabaseSettings.sync_url` or
:attr:`~DatabaseSettings.async_url` (SQLAlchemy :class:`~sqlalchemy.URL` objects, which hide the password
when printed) to connect.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from schemakit.errors import SchemakitError
from schemakit.naming import MAX_IDENTIFIER_BYTES

__all__ = [
    "ASYNC_DRIVERS",
    "LOCAL_HOSTS",
    "AppEnv",
    "DatabaseSettings",
    "configured_settings",
    "describe_settings_error",
]

#: Database hosts that are this machine (``None`` and ``""``: a local socket).
LOCAL_HOSTS: frozenset[str | None] = frozenset({None, "", "localhost", "127.0.0.1", "::1"})

_SYNC_POSTGRES_DRIVER = "postgresql+psycopg"
_ASYNC_POSTGRES_DRIVER = "postgresql+asyncpg"
_SYNC_SQLITE_DRIVER = "sqlite+pysqlite"
_ASYNC_SQLITE_DRIVER = "sqlite+aiosqlite"
# PostgreSQL's timeouts are milliseconds in a 32-bit integer.
_MAX_TIMEOUT_MS = 2_147_483_647
_MAX_PORT = 65_535

#: The async drivers schemakit knows; a ``DATABASE_URL`` naming one of them gets async migrations.
ASYNC_DRIVERS = frozenset({"asyncpg", "aiosqlite", "psycopg_async"})


class AppEnv(StrEnum):
    """The environment an application runs in; seeding and other destructive tools refuse production."""

    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class DatabaseSettings(BaseSettings):
    """How to reach the database and how to pool, time out and log connections.

    Each field is read from the environment variable named in its alias (``DATABASE_URL``, ``DB_POOL_SIZE``,
    ...), or from a ``.env`` file in the working directory; keyword arguments by field name also work. An
    invalid value raises pydantic's ``ValidationError`` naming the variable, without echoing the value.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        hide_input_in_errors=True,
        frozen=True,
    )

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///./app.db"),
        alias="DATABASE_URL",
        description="SQLAlchemy URL of the database; a sync or an async driver, PostgreSQL or SQLite.",
    )
    migration_database_url: SecretStr | None = Field(
        default=None,
        alias="MIGRATION_DATABASE_URL",
        description="The URL migrations connect with (the owner role's), when it differs from DATABASE_URL.",
    )
    app_env: AppEnv = Field(default=AppEnv.DEVELOPMENT, alias="APP_ENV")
    pool_size: int = Field(default=5, ge=1, alias="DB_POOL_SIZE")
    max_overflow: int = Field(default=10, ge=0, alias="DB_MAX_OVERFLOW")
    pool_timeout: float = Field(default=30.0, gt=0, alias="DB_POOL_TIMEOUT")
    pool_recycle: int = Field(default=1800, ge=-1, alias="DB_POOL_RECYCLE")
    pool_pre_ping: bool = Field(default=True, alias="DB_POOL_PRE_PING")
    statement_timeout_ms: int = Field(default=0, ge=0, le=_MAX_TIMEOUT_MS, alias="DB_STATEMENT_TIMEOUT_MS")
    lock_timeout_ms: int = Field(default=0, ge=0, le=_MAX_TIMEOUT_MS, alias="DB_LOCK_TIMEOUT_MS")
    application_name: str = Field(default="schemakit", max_length=MAX_IDENTIFIER_BYTES, alias="DB_APPLICATION_NAME")
    pgbouncer: bool = Field(default=False, alias="DB_PGBOUNCER")
    slow_query_ms: int = Field(default=0, ge=0, le=_MAX_TIMEOUT_MS, alias="DB_SLOW_QUERY_MS")
    echo: bool = Field(default=False, alias="DB_ECHO")
    migration_lock_wait_s: float = Field(default=300.0, ge=0, alias="DB_MIGRATION_LOCK_WAIT_S")
    migration_lock_timeout_ms: int = Field(default=5000, ge=0, le=_MAX_TIMEOUT_MS, alias="DB_MIGRATION_LOCK_TIMEOUT_MS")
    migration_statement_timeout_ms: int = Field(
        default=0, ge=0, le=_MAX_TIMEOUT_MS, alias="DB_MIGRATION_STATEMENT_TIMEOUT_MS"
    )
    online_lock_timeout_ms: int = Field(default=100, ge=1, le=_MAX_TIMEOUT_MS, alias="DB_ONLINE_LOCK_TIMEOUT_MS")
    online_lock_budget_s: float = Field(default=60.0, ge=0, le=86_400, alias="DB_ONLINE_LOCK_BUDGET_S")
    replica_urls: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        alias="DB_REPLICA_URLS",
        description="Read replicas' URLs, comma-separated (or a JSON list); reads go there (schemakit.replicas).",
    )
    replica_max_lag_s: float = Field(default=2.0, ge=0, le=86_400, alias="DB_REPLICA_MAX_LAG_S")
    read_your_writes_s: float = Field(default=3.0, ge=0, le=86_400, alias="DB_READ_YOUR_WRITES_S")

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _split_replica_urls(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("not a JSON list of URLs") from None
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("replica_urls")
    @classmethod
    def _check_replica_urls(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for url in value:
            _check_url_text(url.get_secret_value())
            if make_url(url.get_secret_value()).get_backend_name() != "postgresql":
                raise ValueError("read replicas are PostgreSQL servers: every URL must be a postgresql:// URL")
        return value

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        _check_url_text(value.get_secret_value())
        return value

    @classmethod
    def for_url(cls, url: URL | str, *, app_env: AppEnv | str | None = None) -> DatabaseSettings:
        """Settings for ``url``, given by a tool rather than configured: no ``.env`` file is read.

        The other fields still come from the environment variables, as for ``DatabaseSettings()``.

        Args:
            url: The database, as a URL object or text.
            app_env: The environment to record; the ``APP_ENV`` variable (or its default) when omitted.
        """
        text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        if app_env is None:
            return cls(database_url=text, _env_file=None)
        return cls(database_url=text, app_env=app_env, _env_file=None)

    @property
    def is_async(self) -> bool:
        """Whether ``DATABASE_URL`` names an async driver (asyncpg, aiosqlite, psycopg's async mode)."""
        return self.url.get_driver_name() in ASYNC_DRIVERS

    @property
    def url(self) -> URL:
        """The configured URL as given, driver included."""
        return make_url(self.database_url.get_secret_value())

    @property
    def dialect(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return self.url.get_backend_name()

    @property
    def sync_url(self) -> URL:
        """The URL for a sync engine: psycopg 3 for PostgreSQL, pysqlite for SQLite.

        A sync driver named in ``DATABASE_URL`` (``postgresql+psycopg2``, say) is kept.
        """
        url = self.url
        if url.get_driver_name() not in ASYNC_DRIVERS and "+" in url.drivername:
            return url
        if self.dialect == "postgresql":
            return _rename_query_key(url.set(drivername=_SYNC_POSTGRES_DRIVER), "ssl", "sslmode")
        return url.set(drivername=_SYNC_SQLITE_DRIVER)

    @property
    def async_url(self) -> URL:
        """The URL for an async engine: asyncpg for PostgreSQL, aiosqlite for SQLite.

        libpq's ``sslmode`` query parameter becomes asyncpg's ``ssl``.
        """
        if self.dialect == "postgresql":
            return _rename_query_key(self.url.set(drivername=_ASYNC_POSTGRES_DRIVER), "sslmode", "ssl")
        return self.url.set(drivername=_ASYNC_SQLITE_DRIVER)

    def for_migrations(self) -> DatabaseSettings:
        """These settings with ``MIGRATION_DATABASE_URL`` as the URL, when it is set; the same settings otherwise.

        ``MIGRATION_DATABASE_URL`` is a direct connection: PgBouncer mode (``DB_PGBOUNCER``) does not apply to it.
        """
        if self.migration_database_url is None:
            return self
        return self.model_copy(
            update={"database_url": self.migration_database_url, "migration_database_url": None, "pgbouncer": False}
        )

    def for_replicas(self) -> list[DatabaseSettings]:
        """One copy of these settings per ``DB_REPLICA_URLS`` entry, with that replica's URL as the URL.

        Pool, timeout and PgBouncer settings apply to the replicas as to the primary.
        """
        return [
            self.model_copy(update={"database_url": url, "migration_database_url": None, "replica_urls": ()})
            for url in self.replica_urls
        ]

    def masked_url(self) -> str:
        """The URL as text with the password replaced by ``***``, for messages and logs."""
        return self.url.render_as_string(hide_password=True)


def _check_url_text(text: str) -> None:
    if _authority(text).count("@") > 1:
        raise ValueError(
            "the URL has more than one '@' before the host: percent-encode '@' in the password as %40 "
            "(and ':' as %3A, '/' as %2F)"
        )
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # The parser's own message may quote a piece of the password: never pass it on.
        raise ValueError(
            "not a SQLAlchemy database URL (expected e.g. postgresql://user:password@host:5432/db; "
            "percent-encode any '@', ':' or '/' in the password)"
        ) from None
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}; schemakit supports postgresql and sqlite")
    if url.port is not None and not 0 < url.port <= _MAX_PORT:
        raise ValueError(f"the port {url.port} is out of range (1 to {_MAX_PORT})")


def _authority(url: str) -> str:
    """The part of a URL between ``://`` and the path: ``user:password@host:port``."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    return rest.split("/", 1)[0].split("?", 1)[0]


def describe_settings_error(error: ValidationError) -> str:
    """One line per bad setting, ``VARIABLE: reason``, without the values (which may be secrets)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'settings'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    )


def _rename_query_key(url: URL, old: str, new: str) -> URL:
    if old not in url.query:
        return url
    query = dict(url.query)
    query[new] = query.pop(old)
    return url.set(query=query)


def configured_settings() -> DatabaseSettings:
    """The database settings from the environment, for a command.

    Raises:
        SchemakitError: If they are invalid; the message names each bad setting, never its value.
    """
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise SchemakitError(f"the database settings are invalid: {describe_settings_error(exc)}") from None
