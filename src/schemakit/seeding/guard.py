"""The seed guard: never write fixture data into a database that may matter.

Two layers, both checked before anything is written:

1. ``APP_ENV`` must be set, to ``development`` or ``test``; and a database on another host with
   ``APP_ENV=development`` is suspicious too (a laptop pointed at a shared server). The hosts are those the
   driver will really connect to (:mod:`~schemakit.hosts`), not only the URL's.
2. The database's own environment marker (:mod:`schemakit.environment_marker`) must not say ``production``.

A refusal the settings make certain is given before connecting anywhere; otherwise the database is read
(never written) for its marker. A refusal names the target (password masked) and its reasons.
:data:`OVERRIDE_FLAG` overrides it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from schemakit.engine import sqlite_file
from schemakit.environment_marker import read_environment_marker
from schemakit.errors import SchemakitError
from schemakit.hosts import remote_hosts
from schemakit.settings import AppEnv, DatabaseSettings

__all__ = ["OVERRIDE_FLAG", "SeedRefusedError", "check_seed_target", "refusal_reasons"]

#: The command-line flag that seeds a database the guard refused.
OVERRIDE_FLAG = "--override-production-guard"

_SAFE_ENVIRONMENTS = frozenset({AppEnv.DEVELOPMENT, AppEnv.TEST})


class SeedRefusedError(SchemakitError):
    """The seed guard refused the target database; the message says why."""


def refusal_reasons(settings: DatabaseSettings, engine: Engine) -> list[str]:
    """Every reason not to seed the database behind ``engine``; empty if it is safe.

    The database is only read from; a SQLite file that does not exist yet is not created.

    Args:
        settings: The settings in force (``APP_ENV`` must have been set explicitly).
        engine: An engine for the target database.
    """
    return _settings_reasons(settings) + _database_reasons(engine)


def _settings_reasons(settings: DatabaseSettings) -> list[str]:
    """The reasons the settings alone give, without connecting."""
    reasons = []
    if "app_env" not in settings.model_fields_set:
        reasons.append("APP_ENV is not set (set it to development or test)")
    elif settings.app_env not in _SAFE_ENVIRONMENTS:
        reasons.append(f"APP_ENV is {settings.app_env}, not development or test")
    # The hosts the driver will really reach (query parameters, PGHOST, several hosts), not the URL's.
    remote = remote_hosts(settings.url) if settings.dialect == "postgresql" else []
    if remote and settings.app_env is AppEnv.DEVELOPMENT:
        reasons.append(f"the database is on another host ({', '.join(remote)}) while APP_ENV is development")
    return reasons


def _database_reasons(engine: Engine) -> list[str]:
    if not _exists(engine):
        return []
    with engine.connect() as connection:
        if read_environment_marker(connection) == AppEnv.PRODUCTION:
            return ["the database itself is marked as production (table schemakit_environment)"]
    return []


def _exists(engine: Engine) -> bool:
    if engine.dialect.name != "sqlite":
        return True
    path = sqlite_file(engine.url)
    return path is None or Path(path).exists()


def check_seed_target(settings: DatabaseSettings, engine: Engine, *, override: bool = False) -> None:
    """Refuse to seed an unsafe target.

    Args:
        settings: The settings in force.
        engine: An engine for the target database.
        override: Seed anyway (the user passed :data:`OVERRIDE_FLAG`).

    Raises:
        SeedRefusedError: If there is a reason not to seed and ``override`` is false.
    """
    if override:
        return
    # The settings decide first: a refusal they make certain is given without connecting anywhere.
    reasons = _settings_reasons(settings) or _database_reasons(engine)
    if reasons:
        listed = "\n".join(f"  - {reason}" for reason in reasons)
        raise SeedRefusedError(
            f"Refusing to seed {settings.masked_url()}:\n{listed}\n"
            f"Nothing was written. If this database really is disposable, run again with {OVERRIDE_FLAG}."
        )
