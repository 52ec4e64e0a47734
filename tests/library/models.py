"""The library's own test models, on metadata of their own, migrated by the project beside this file.

A small shop (users, products, orders) exercises every mixin the way an application would; the other models
cover the corners: many-to-many, every mixin at once, composite and long names, ids made by the database. None
of them is the template's: the library's tests never depend on the template.
"""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
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
    string_enum,
    unique_among_live,
)


class LibraryBase(DeclarativeBase):
    metadata: ClassVar[MetaData] = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = TYPE_ANNOTATION_MAP


post_tags = Table(
    "post_tags",
    LibraryBase.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Author(UUIDv7PrimaryKeyMixin, TimestampMixin, LibraryBase):
    __tablename__ = "authors"
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list[Post]] = relationship(back_populates="author", order_by="Post.title")


class Post(UUIDv7PrimaryKeyMixin, SoftDeleteMixin, AuditMixin, LibraryBase):
    __tablename__ = "posts"
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(50))
    author: Mapped[Author] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by="Tag.name")


class Tag(UUIDv7PrimaryKeyMixin, SoftDeleteMixin, LibraryBase):
    __tablename__ = "tags"
    name: Mapped[str] = mapped_column(String(50))


class Everything(UUIDv7PrimaryKeyMixin, TimestampMixin, SoftDeleteMixin, VersionedMixin, AuditMixin, LibraryBase):
    """A model with every mixin, declared in an order that is not the column order."""

    __tablename__ = "everything"
    label: Mapped[str] = mapped_column(String(50))


class Warehouse(LibraryBase):
    """Composite keys, and names long enough to need shortening."""

    __tablename__ = "warehouse_locations_with_a_deliberately_very_long_table_name"
    region_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    site_number_within_region: Mapped[int] = mapped_column(primary_key=True)


class Shelf(UUIDv7PrimaryKeyMixin, LibraryBase):
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


class Reading(ServerUUIDv7PrimaryKeyMixin, TimestampMixin, LibraryBase):
    """Rows whose ids the database makes, as for a table loaded by concurrent writers."""

    __tablename__ = "readings"
    sensor: Mapped[str] = mapped_column(String(20))


Money = Numeric(12, 2)


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class ShopEntity(UUIDv7PrimaryKeyMixin, TimestampMixin, LibraryBase):
    __abstract__ = True


class User(ShopEntity, SoftDeleteMixin, AuditMixin):
    """Soft-deletable, with an email unique among live rows."""

    __tablename__ = "users"
    __table_args__ = (unique_among_live("email"),)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(100))
    orders: Mapped[list[Order]] = relationship(back_populates="user")


class Product(ShopEntity, SoftDeleteMixin, VersionedMixin, AuditMixin):
    """Soft-deletable and versioned, with a natural key, a check and a JSON document."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("sku"), CheckConstraint("price >= 0", name="price_not_negative"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Order(ShopEntity, VersionedMixin, AuditMixin):
    """Versioned, with a string enum and a column whose attribute has another name."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("number"),)
    number: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[OrderStatus] = mapped_column(string_enum(OrderStatus, name="status"), default=OrderStatus.PENDING)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )
    products: Mapped[list[Product]] = relationship(secondary="order_items", viewonly=True)


class OrderItem(ShopEntity, AuditMixin):
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)
    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()
