"""What a caller tells schemakit's migration environment, as one typed object: :class:`MigrationOptions`.

Alembic passes a caller's values to ``env.py`` through ``config.attributes``; schemakit keeps all of its own
under one key, as a frozen :class:`MigrationOptions`, rather than as loose string keys. Alembic's cookbook key
``config.attributes["connection"]`` is honoured as well, since many projects and tools use it.

:func:`with_options` returns a copy of a caller's :class:`~alembic.config.Config` carrying changed options, so
schemakit's helpers and gates never change the configuration they are handed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from alembic.config import Config
from sqlalchemy import MetaData

from schemakit.settings import DatabaseSettings

__all__ = ["CONNECTION_ATTRIBUTE", "OPTIONS_ATTRIBUTE", "MigrationOptions", "migration_options", "with_options"]

#: The ``config.attributes`` key holding schemakit's :class:`MigrationOptions`.
OPTIONS_ATTRIBUTE = "schemakit.migration_options"
#: Alembic's cookbook key for a connection to migrate on, instead of one built from the settings.
CONNECTION_ATTRIBUTE = "connection"


@dataclass(frozen=True)
class MigrationOptions:
    """Options for :func:`~schemakit.migrations.run_migrations`, beyond what ``alembic.ini`` holds.

    Attributes:
        settings: Database settings to use instead of reading the environment.
        accept_edited: Revisions whose edited files are accepted (``"all"`` accepts every one); added to what
            ``-x accept-edited=...`` gives.
        configure_logging: Whether ``env.py`` applies the ini file's logging sections; helpers called from
            an application leave its logging alone.
        capture_revision: A list that receives the code autogenerate would write, instead of a file (the drift
            gate's way to ask "would autogenerate write anything?").
        on_version_apply: Callables Alembic calls after each applied step (its ``on_version_apply`` hook, with
            ``ctx``, ``step``, ``heads`` and ``run_args``), after schemakit's own bookkeeping; the round-trip
            gate reads the schema between steps this way.
        capture_metadata: A list that receives the models' metadata ``env.py`` hands to ``run_migrations``,
            which then runs nothing (the phase gate reads the models this way).
        phase: ``"expand"`` stops an upgrade before the first pending contract revision (as ``-x phase=expand``
            does; see :mod:`schemakit.migrations.phases`).
    """

    settings: DatabaseSettings | None = None
    accept_edited: frozenset[str] = frozenset()
    configure_logging: bool = True
    capture_revision: list[str] | None = field(default=None, compare=False)
    on_version_apply: tuple[Callable[..., None], ...] = field(default=(), compare=False)
    capture_metadata: list[MetaData] | None = field(default=None, compare=False)
    phase: str | None = None


def migration_options(config: Config) -> MigrationOptions:
    """The options ``config`` carries (the defaults when it carries none)."""
    options = config.attributes.get(OPTIONS_ATTRIBUTE)
    return options if isinstance(options, MigrationOptions) else MigrationOptions()


def with_options(
    config: Config,
    *,
    settings: DatabaseSettings | None = None,
    accept_edited: Collection[str] = (),
    configure_logging: bool | None = None,
    capture_revision: list[str] | None = None,
    on_version_apply: Collection[Callable[..., None]] | None = None,
    capture_metadata: list[MetaData] | None = None,
    phase: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Config:
    """A copy of ``config`` whose options differ by what is given; ``config`` itself is left as it is.

    Args:
        config: The caller's Alembic configuration.
        settings: Replaces the options' settings.
        accept_edited: Added to the accepted revisions.
        configure_logging: Replaces the logging choice.
        capture_revision: Replaces the capture list.
        on_version_apply: Replaces the step callbacks.
        capture_metadata: Replaces the list that receives the models' metadata.
        phase: Replaces the phase an upgrade stops at.
        attributes: Further ``config.attributes`` entries for the copy (a ``"connection"``, say).

    Returns:
        The copy. It shares the ini file's parsed sections (read-only here) and has its own attributes.
    """
    current = migration_options(config)
    changes: dict[str, Any] = {}
    if settings is not None:
        changes["settings"] = settings
    if accept_edited:
        changes["accept_edited"] = current.accept_edited | frozenset(accept_edited)
    if configure_logging is not None:
        changes["configure_logging"] = configure_logging
    if capture_revision is not None:
        changes["capture_revision"] = capture_revision
    if on_version_apply is not None:
        changes["on_version_apply"] = tuple(on_version_apply)
    if capture_metadata is not None:
        changes["capture_metadata"] = capture_metadata
    if phase is not None:
        changes["phase"] = phase
    # A shallow copy keeps the parsed ini file and command-line options; only the attributes are new, and
    # Config.attributes is a plain dict that Alembic memoizes on the instance.
    copied = copy.copy(config)
    copied.attributes = {**config.attributes, **(attributes or {}), OPTIONS_ATTRIBUTE: replace(current, **changes)}
    return copied
