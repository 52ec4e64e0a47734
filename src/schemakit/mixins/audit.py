"""Who created and who last changed a row."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schemakit.audit import current_actor

__all__ = ["AuditMixin"]

_ACTOR_LENGTH = 255


class AuditMixin:
    """Adds ``created_by`` and ``updated_by``, filled from :func:`schemakit.audit.acting_as`.

    Both are nullable text: writes made outside any ``acting_as`` block record no actor. They are not foreign
    keys, because actors include services and scripts (``"seed"``, ``"billing-worker"``) as well as users.
    An insert sets both; each ORM update sets ``updated_by``, unless the update sets it explicitly.
    """

    created_by: Mapped[str | None] = mapped_column(String(_ACTOR_LENGTH), default=current_actor, sort_order=95)
    updated_by: Mapped[str | None] = mapped_column(
        String(_ACTOR_LENGTH), default=current_actor, onupdate=current_actor, sort_order=96
    )
