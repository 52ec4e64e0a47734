"""Users, products and orders, as a real application would model them.

* Users are soft-deletable; an email is unique among live users, so it can be registered again after its
  owner's account is deleted.
* Products are soft-deletable and versioned: two admins editing one product cannot overwrite each other; they
  are searchable by name and description (:func:`schemakit.search.hybrid_search`).
* Orders belong to a user (a user with orders cannot be hard-deleted) and list products through order items,
  which go when their order goes.
* Every table records who created and last changed each row; every change to users and orders is kept in the
  audit log, with its actor.
"""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from schemakit import (
    AuditMixin,
    AuditTrailMixin,
    Entity,
    SearchableMixin,
    SoftDeleteMixin,
    VersionedMixin,
    string_enum,
    unique_among_live,
)

Money = Numeric(12, 2)


class OrderStatus(enum.StrEnum):
    """Where an order is in its life."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class User(Entity, SoftDeleteMixin, AuditMixin, AuditTrailMixin):
    """Someone who can sign in and place orders."""

    __tablename__ = "users"
    __table_args__ = (unique_among_live("email"),)

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(100))

    orders: Mapped[list[Order]] = relationship(back_populates="user")


class Product(Entity, SoftDeleteMixin, VersionedMixin, AuditMixin, SearchableMixin):
    """Something for sale, identified by its stock-keeping unit."""

    __tablename__ = "products"
    __searchable__: ClassVar[dict[str, str]] = {"name": "A", "description": "B"}
    __table_args__ = (
        UniqueConstraint("sku"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Money)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Order(Entity, VersionedMixin, AuditMixin, AuditTrailMixin):
    """A user's purchase of one or more products, known to people by its number."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("number"),)

    number: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        string_enum(OrderStatus, name="status"), default=OrderStatus.PENDING, index=True
    )
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )
    products: Mapped[list[Product]] = relationship(secondary="order_items", viewonly=True)


class OrderItem(Entity, AuditMixin):
    """One product on an order, with the price paid for it."""

    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    # No index of its own: the unique constraint above leads with order_id and serves its lookups.
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


#: The models' metadata, named here for tools that look for it in the models module (pytest-alembic).
metadata = Entity.metadata
