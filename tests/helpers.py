"""Small builders shared by the tests."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import Engine, text

from schemakit import uuid7
from tests.library.models import Order, OrderItem, Product, User


def make_user(email: str = "ada@example.test") -> User:
    return User(email=email, display_name=email.split("@", maxsplit=1)[0].title())


def make_product(sku: str, price: str = "10.00") -> Product:
    return Product(sku=sku, name=f"Product {sku}", price=Decimal(price))


def make_order(user: User, *products: Product, number: str | None = None) -> Order:
    order = Order(user=user, number=number or f"SO-{uuid7().hex[-10:].upper()}")
    order.items = [OrderItem(product=product, quantity=1, unit_price=product.price) for product in products]
    order.total = sum((product.price for product in products), Decimal("0.00"))
    return order


#: The shop's tables, parents first; the template's and the library tests' shops share these names.
SHOP_TABLES = ("users", "products", "orders", "order_items")


def snapshot(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every row, per shop table."""
    state = {}
    with engine.connect() as connection:
        for table in SHOP_TABLES:
            rows = connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            state[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state
