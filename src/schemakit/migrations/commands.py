"""Run Alembic commands from Python: in tests, in an application's start-up, inside an event loop.

The command-line tool stays the main way in (``alembic upgrade head``); these helpers cover the cases where
the caller already holds a connection or an event loop::

    config = make_config("alembic.ini")
    upgrade(config)                                   # sync, connection built from DatabaseSettings

    async with async_engine.connect() as connection:  # inside a running loop
        await upgrade_async(connection, config)
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from schemakit.migrations.options import CONNECTION_ATTRIBUTE, with_options
from schemakit.settings import DatabaseSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["downgrade", "downgrade_async", "make_config", "models_metadata_of", "upgrade", "upgrade_async"]


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
    return with_options(Config(str(path)), settings=settings, accept_edited=accept_edited, configure_logging=False)


def upgrade(
    config: Config, revision: str = "head", *, connection: Connection | None = None, phase: str | None = None
) -> None:
    """Upgrade to ``revision``, on ``connection`` if given, else on one built from the settings.

    ``phase="expand"`` stops before the first pending contract revision (:mod:`schemakit.migrations.phases`).
    """
    command.upgrade(_on(with_options(config, phase=phase) if phase else config, connection), revision)


def downgrade(config: Config, revision: str, *, connection: Connection | None = None) -> None:
    """Downgrade to ``revision`` (``"-1"``, ``"base"``, a revision id)."""
    command.downgrade(_on(config, connection), revision)


async def upgrade_async(connection: AsyncConnection, config: Config, revision: str = "head") -> None:
    """Upgrade on an async connection, from inside a running event loop."""
    await connection.run_sync(lambda sync: upgrade(config, revision, connection=sync))


async def downgrade_async(connection: AsyncConnection, config: Config, revision: str) -> None:
    """Downgrade on an async connection, from inside a running event loop."""
    await connection.run_sync(lambda sync: downgrade(config, revision, connection=sync))


def _on(config: Config, connection: Connection | None) -> Config:
    return config if connection is None else with_options(config, attributes={CONNECTION_ATTRIBUTE: connection})


def models_metadata_of(config: Config) -> list[MetaData]:
    """The models' metadata the project's ``env.py`` hands to ``run_migrations``, read without a database."""
    captured: list[MetaData] = []
    command.current(with_options(config, capture_metadata=captured, configure_logging=False))
    return captured
