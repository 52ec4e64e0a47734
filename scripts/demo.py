"""Show schemakit at work on the configured database (by default the local SQLite file ./app.db).

Run with ``make demo``. It migrates the database to the latest revision (``alembic upgrade head``), writes a
customer, products and an order as an audited actor, soft-deletes a product, and provokes an optimistic-locking
conflict, printing each step. Safe to run again: rows are found by their natural keys before anything is created.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from example_app.models import Order, OrderItem, Product, User
from schemakit import (
    AppEnv,
    ConcurrentUpdateError,
    DatabaseSettings,
    acting_as,
    make_engine,
    make_session_factory,
    session_scope,
    uuid7,
    uuid7_time,
)
from schemakit.migrations import make_config, upgrade

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"

CATALOGUE = {
    "MUG-001": ("Enamel mug", "12.50"),
    "TEE-002": ("Cotton tee", "24.00"),
    "CAP-003": ("Cap", "18.00"),
}


def product(session: Session, sku: str) -> Product:
    found = session.scalars(select(Product).where(Product.sku == sku).execution_options(include_deleted=True))
    existing = found.one_or_none()
    if existing is not None:
        existing.restore()
        return existing
    name, price = CATALOGUE[sku]
    created = Product(sku=sku, name=name, price=Decimal(price), attributes={"demo": True})
    session.add(created)
    return created


def customer(session: Session) -> User:
    email = "ada@example.test"
    existing = session.scalars(select(User).where(User.email == email)).one_or_none()
    if existing is None:
        existing = User(email=email, display_name="Ada Lovelace")
        session.add(existing)
    return existing


def main() -> int:
    try:
        settings = DatabaseSettings()
    except ValidationError as exc:
        print(f"Invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if settings.app_env is AppEnv.PRODUCTION:
        print(f"Refusing to run the demo against production ({settings.masked_url()}).", file=sys.stderr)
        return 1
    print(f"Database: {settings.masked_url()} (APP_ENV={settings.app_env})")
    upgrade(make_config(ALEMBIC_INI, settings=settings))
    print("Migrated to the latest revision (alembic upgrade head).")
    engine = make_engine(settings)
    factory = make_session_factory(engine)

    with acting_as("demo-script"), session_scope(factory) as session:
        ada = customer(session)
        products = [product(session, sku) for sku in CATALOGUE]
        items = [OrderItem(product=item, quantity=1, unit_price=item.price) for item in products[:2]]
        order = Order(user=ada, number=f"SO-{uuid7().hex[-10:].upper()}", items=items, meta={"channel": "demo"})
        session.add(order)
        order.total = sum((item.unit_price for item in order.items), Decimal("0.00"))
    print(f"Wrote order {order.id} for {ada.email}: total {order.total}, id made at {uuid7_time(order.id):%H:%M:%S.%f}")

    with factory() as session:
        loaded = session.scalars(select(Order).where(Order.id == order.id).options(selectinload(Order.items))).one()
        print(
            f"Read it back: status={loaded.status}, {len(loaded.items)} items, "
            f"created_by={loaded.created_by}, created_at={loaded.created_at.isoformat()}"
        )
        orders = session.scalar(select(func.count()).select_from(Order).where(Order.user_id == ada.id))
        print(f"{ada.display_name} has {orders} order(s) in this database.")

    with acting_as("demo-admin"), session_scope(factory) as session:
        session.scalars(select(Product).where(Product.sku == "CAP-003")).one().soft_delete()
    with factory() as session:
        live = session.scalars(select(Product.sku).order_by(Product.sku)).all()
        every = session.scalars(select(Product.sku).order_by(Product.sku).execution_options(include_deleted=True))
        print(f"Soft-deleted CAP-003: catalogue shows {list(live)}; with include_deleted {list(every)}")

    with factory() as first, factory() as second:
        mine = first.scalars(select(Product).where(Product.sku == "MUG-001")).one()
        theirs = second.scalars(select(Product).where(Product.sku == "MUG-001")).one()
        mine.price += Decimal("1.00")
        first.commit()
        theirs.price -= Decimal("1.00")
        try:
            second.commit()
        except ConcurrentUpdateError:
            second.rollback()
            print(
                f"Version conflict caught: the second writer's change was refused; MUG-001 is at "
                f"{mine.price} (version {mine.version})."
            )
        else:
            print("No version conflict was raised: optimistic locking is not working.", file=sys.stderr)
            return 1
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
