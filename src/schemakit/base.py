"""The declarative base that schemakit's models, and an application's, build on."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from schemakit.mixins.primary_key import UUIDv7PrimaryKeyMixin
from schemakit.mixins.timestamps import TimestampMixin
from schemakit.naming import make_metadata
from schemakit.types import TYPE_ANNOTATION_MAP

__all__ = ["Base", "Entity"]


class Base(DeclarativeBase):
    """A declarative base on naming-convention metadata with schemakit's annotation types.

    ``Mapped[datetime]`` is an aware UTC timestamp, ``Mapped[dict[str, Any]]`` is JSONB (JSON on SQLite),
    ``Mapped[uuid.UUID]`` is a native UUID, and a ``Mapped[SomeEnum]`` is a checked string.

    An application that wants metadata of its own (to keep two apps' tables apart) can declare its own base
    the same way::

        class AppBase(DeclarativeBase):
            metadata = make_metadata()
            type_annotation_map = TYPE_ANNOTATION_MAP
    """

    metadata: ClassVar[MetaData] = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


class Entity(UUIDv7PrimaryKeyMixin, TimestampMixin, Base):
    """An abstract base for the common case: a UUIDv7 ``id`` plus ``created_at`` and ``updated_at``.

    Add the other mixins as needed::

        class Product(Entity, SoftDeleteMixin, VersionedMixin):
            __tablename__ = "products"
            name: Mapped[str]
    """

    __abstract__ = True
