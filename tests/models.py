"""Models used only by the tests, on metadata of their own so they never reach the template's migrations."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from schemakit import (
    TYPE_ANNOTATION_MAP,
    AuditMixin,
    ServerUUIDv7PrimaryKeyMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UUIDv7PrimaryKeyMixin,
    VersionedMixin,
    make_metadata,
)


class TestBase(DeclarativeBase):
    metadata: ClassVar[MetaData] = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


post_tags = Table(
    "post_tags",
    TestBase.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Author(UUIDv7PrimaryKeyMixin, TimestampMixin, TestBase):
    __tablename__ = "authors"
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.title")


class Post(UUIDv7PrimaryKeyMixin, SoftDeleteMixin, AuditMixin, TestBase):
    __tablename__ = "posts"
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(50))
    author: Mapped[Author] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by="Tag.name")


class Tag(UUIDv7PrimaryKeyMixin, SoftDeleteMixin, TestBase):
    __tablename__ = "tags"
    name: Mapped[str] = mapped_column(String(50))


class Everything(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, AuditMixin, TestBase):
    """A model with every mixin, declared in an order that is not the column order."""

    __tablename__ = "everything"
    label: Mapped[str] = mapped_column(String(50))


class Warehouse(TestBase):
    """Composite keys, and names long enough to need shortening."""

    __tablename__ = "warehouse_locations_with_a_deliberately_very_long_table_name"
    region_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    site_number_within_region: Mapped[int] = mapped_column(primary_key=True)


class Shelf(UUIDv7PrimaryKeyMixin, TestBase):
    __tablename__ = "shelves"
    __table_args__ = (
        ForeignKeyConstraint(
            ["region_code", "site_number_within_region"],
            [Warehouse.region_code, Warehouse.site_number_within_region],
            ondelete="CASCADE",
        ),
    )
    region_code: Mapped[str] = mapped_column(String(10))
    site_number_within_region: Mapped[int]


class Reading(ServerUUIDv7PrimaryKeyMixin, TimestampMixin, TestBase):
    """Rows whose ids the database makes, as for a table loaded by concurrent writers."""

    __tablename__ = "readings"
    sensor: Mapped[str] = mapped_column(String(20))
