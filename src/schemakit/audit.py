"""Who is acting: the actor recorded by :class:`~schemakit.mixins.AuditMixin`.

The current actor lives in a :class:`contextvars.ContextVar`, so it follows the code that set it: through
nested calls in sync code, into asyncio tasks created inside the block (each task gets a copy), and into
SQLAlchemy's async session, which runs flushes with the caller's context. Concurrent requests in one event
loop never see each other's actor.

Example::

    with acting_as(current_user.id):
        session.add(Order(...))
        session.commit()   # created_by and updated_by are current_user.id
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeAlias

__all__ = ["Actor", "acting_as", "current_actor"]

#: What may identify an actor: a user id, a service name such as ``"seed"``, or an integer key.
Actor: TypeAlias = str | int | uuid.UUID

_current_actor: ContextVar[str | None] = ContextVar("schemakit_current_actor", default=None)


def current_actor() -> str | None:
    """Return the current actor as stored in audit columns, or ``None`` outside any :func:`acting_as`."""
    return _current_actor.get()


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    """Record ``actor`` as the author of every write made inside the block.

    Blocks nest: the innermost wins, and leaving it restores the outer actor.

    Args:
        actor: The actor's id; stored as text. ``None`` records no actor.

    Yields:
        Nothing; the actor is in effect until the block exits.

    Raises:
        ValueError: If the actor's text form is empty.
    """
    text = None if actor is None else str(actor)
    if text == "":
        raise ValueError("an actor id must not be empty; pass None to record no actor")
    token = _current_actor.set(text)
    try:
        yield
    finally:
        _current_actor.reset(token)
