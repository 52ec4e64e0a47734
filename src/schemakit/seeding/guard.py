"""The seed guard: never write fixture data into a database that may matter.

Two layers, both checked before anything is written:

1. ``APP_ENV`` must be set, to ``development`` or ``test``; and a database on another host with
   ``APP_ENV=development`` is suspicious too (a laptop pointed at a shared server).
2. The database's own environment marker (:mod:`schemakit.environment_marker`) must not say ``production``.

A refusal names the target (password masked) and every reason. :data:`OVERRIDE_FLAG` overrides it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from schemakit.engine import sqlite_file
from schemakit.environment_marker import read_environment_marker
from schemakit.errors import SchemakitError
from schemakit.settings import LOCAL_HOSTS, AppEnv, DatabaseSettings

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
    reasons = []
    if "app_env" not in settings.model_fields_set:
        reasons.append("APP_ENV is not set (set it to development or test)")
    elif settings.app_env not in _SAFE_ENVIRONMENTS:
        reasons.append(f"APP_ENV is {settings.app_env}, not development or test")
    host = settings.url.host
    if settings.dialect == "postgresql" and host not in LOCAL_HOSTS and settings.app_env is AppEnv.DEVELOPMENT:
        reasons.append(f"the database is on another host ({host}) while APP_ENV is development")
    if _exists(engine):
        with engine.connect() as connection:
            if read_environment_marker(connection) == AppEnv.PRODUCTION:
                reasons.append("the database itself is marked as production (table schemakit_environment)")
    return reasons


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
    reasons = refusal_reasons(settings, engine)
    if reasons and not override:
        listed = "\n".join(f"  - {reason}" for reason in reasons)
        raise SeedRefusedError(
            f"Refusing to seed {settings.masked_url()}:\n{listed}\n"
            f"Nothing was written. If this database really is disposable, run again with {OVERRIDE_FLAG}."
        )
