"""Run Alembic commands from Python: in tests, in an application's start-up, inside an event loop.

The command-line tool stays the main way in (``alembic upgrade head``); these helpers cover the cases where
the caller already holds a connection or an event loop::

    config = make_config("alembic.ini")
    upgrade(config)                                   # sync, connection built from DatabaseSettings

    async with async_engine.connect() as connection:  # inside a running loop
        await upgrade_async(connection, config)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from schemakit.migrations.environment import ACCEPT_EDITED_ARGUMENT, CONNECTION_ATTRIBUTE, SETTINGS_ATTRIBUTE
from schemakit.settings import DatabaseSettings

__all__ = ["downgrade", "downgrade_async", "make_config", "upgrade", "upgrade_async"]

#: ``config.attributes`` key: when false, ``env.py`` leaves the process's logging configuration alone.
CONFIGURE_LOGGING_ATTRIBUTE = "configure_logging"


def make_config(
    ini_path: str | Path = "alembic.ini",
    *,
    settings: DatabaseSettings | None = None,
    accept_edited: Collection[str] = (),
) -> Config:
    """Return an Alembic :class:`~alembic.config.Config` for the project's ``alembic.ini``.

    Args:
        ini_path: The project's ``alembic.ini``.
        settings: Database settings to use instead of reading the environment.
        accept_edited: Revisions whose edited files are accepted (see :mod:`~schemakit.migrations.checksums`).

    Returns:
        The configuration; it leaves the caller's logging set-up alone.

    Raises:
        FileNotFoundError: If ``ini_path`` does not exist.
    """
    path = Path(ini_path)
    if not path.is_file():
        raise FileNotFoundError(f"no Alembic configuration at {path.resolve()}")
    config = Config(str(path))
    config.attributes[CONFIGURE_LOGGING_ATTRIBUTE] = False
    if settings is not None:
        config.attributes[SETTINGS_ATTRIBUTE] = settings
    if accept_edited:
        config.attributes[ACCEPT_EDITED_ARGUMENT] = ",".join(accept_edited)
    return config


def upgrade(config: Config, revision: str = "head", *, connection: Connection | None = None) -> None:
    """Upgrade to ``revision``, on ``connection`` if given, else on one built from the settings."""
    _run(config, connection, lambda: command.upgrade(config, revision))


def downgrade(config: Config, revision: str, *, connection: Connection | None = None) -> None:
    """Downgrade to ``revision`` (``"-1"``, ``"base"``, a revision id)."""
    _run(config, connection, lambda: command.downgrade(config, revision))


async def upgrade_async(connection: AsyncConnection, config: Config, revision: str = "head") -> None:
    """Upgrade on an async connection, from inside a running event loop."""
    await connection.run_sync(lambda sync: upgrade(config, revision, connection=sync))


async def downgrade_async(connection: AsyncConnection, config: Config, revision: str) -> None:
    """Downgrade on an async connection, from inside a running event loop."""
    await connection.run_sync(lambda sync: downgrade(config, revision, connection=sync))


def _run(config: Config, connection: Connection | None, run: Callable[[], None]) -> None:
    if connection is None:
        run()
        return
    config.attributes[CONNECTION_ATTRIBUTE] = connection
    try:
        run()
    finally:
        del config.attributes[CONNECTION_ATTRIBUTE]
