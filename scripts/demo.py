"""Show schemakit at work on the configured database (by default the local SQLite file ./app.db).

Run with ``make demo``. It migrates the database to the latest revision (``alembic upgrade head``), loads the
development fixtures (``scripts/seed_data.py``'s loader, behind the same guard), searches the catalogue, then
writes an order as an audited actor, soft-deletes a product and provokes an optimistic-locking conflict,
printing each step. Safe to run again: seeding matches rows by their natural keys, and each run adds one order.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from example_app.models import Order, OrderItem, OrderStatus, Product, User
from schemakit import (
    Base,
    ConcurrentUpdateError,
    DatabaseSettings,
    acting_as,
    make_engine,
    make_session_factory,
    session_scope,
    uuid7,
    uuid7_time,
)
from schemakit.audit_log.reading import history
from schemakit.audit_log.verify import verify_chain
from schemakit.migrations import make_config, upgrade
from schemakit.search import hybrid_search
from schemakit.seeding import SeedRefusedError, check_seed_target, load_fixtures, seed

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "src" / "example_app" / "fixtures"


def product(session: Session, sku: str) -> Product:
    statement = select(Product).where(Product.sku == sku).execution_options(include_deleted=True)
    return session.scalars(statement).one()


def show_history(factory: sessionmaker[Session], order: Order) -> None:
    """Change the order's status as someone else, then print its history from the audit log."""
    with acting_as("demo-support"), session_scope(factory) as session:
        session.get_one(Order, order.id).status = OrderStatus.PAID
    with factory() as session:
        intact = verify_chain(session.connection()).intact
        print(f"Order {order.number}'s history in the audit log (hash chain intact: {intact}):")
        for entry in history(session, Order, order.id):
            print(f"  {entry.action:<6} by {entry.actor}: {', '.join(sorted(entry.changes))}")


def show_soft_delete(factory: sessionmaker[Session], sku: str) -> None:
    """Soft-delete a product, then list the catalogue with and without the deleted rows."""
    with acting_as("demo-admin"), session_scope(factory) as session:
        product(session, sku).soft_delete()
    with factory() as session:
        live = session.scalars(select(Product.sku).order_by(Product.sku)).all()
        every = session.scalars(select(Product.sku).order_by(Product.sku).execution_options(include_deleted=True))
        print(f"Soft-deleted {sku}: the catalogue shows {list(live)}; with include_deleted {list(every)}")


def show_search(factory: sessionmaker[Session], words: str) -> None:
    """Search the catalogue by name and description (the full-text leg of a hybrid search)."""
    with factory() as session:
        found = hybrid_search(session, Product, text=words)
        shown = ", ".join(f"{hit.item.sku} {hit.item.name!r} (text rank {hit.text_rank})" for hit in found)
        print(f"Searched the catalogue for {words!r}: {shown}")


def main() -> int:
    try:
        settings = DatabaseSettings()
    except ValidationError as exc:
        print(f"Invalid settings:\n{exc}", file=sys.stderr)
        return 2
    print(f"Database: {settings.masked_url()} (APP_ENV={settings.app_env})")
    engine = make_engine(settings)
    try:
        check_seed_target(settings, engine)
    except SeedRefusedError as exc:
        print(exc, file=sys.stderr)
        return 1
    upgrade(make_config(ROOT / "alembic.ini", settings=settings))
    print("Migrated to the latest revision (alembic upgrade head).")
    with engine.connect() as connection:
        report = seed(connection, load_fixtures(FIXTURES), mappers=Base.registry)
    print(f"Seeded the development fixtures:\n{report.format()}")
    factory = make_session_factory(engine)

    show_search(factory, "canvas bag")

    with acting_as("demo-script"), session_scope(factory) as session:
        ada = session.scalars(select(User).where(User.email == "ada@example.test")).one()
        items = [
            OrderItem(product=item, quantity=1, unit_price=item.price)
            for item in (product(session, "MUG-001"), product(session, "TEE-002"))
        ]
        number = f"SO-{uuid7().hex[-10:].upper()}"
        order = Order(user=ada, number=number, items=items, details={"channel": "demo"})
        order.total = sum((item.unit_price for item in items), Decimal("0.00"))
        session.add(order)
    made_at = f"{uuid7_time(order.id):%H:%M:%S.%f}"
    print(f"Wrote order {order.number} ({order.id}, id made at {made_at}) for {ada.email}: total {order.total}")

    with factory() as session:
        loaded = session.scalars(select(Order).where(Order.id == order.id).options(selectinload(Order.items))).one()
        print(
            f"Read it back: status={loaded.status}, {len(loaded.items)} items, "
            f"created_by={loaded.created_by}, created_at={loaded.created_at.isoformat()}"
        )
        orders = session.scalar(select(func.count()).select_from(Order).where(Order.user_id == ada.id))
        print(f"{ada.display_name} has {orders} order(s) in this database.")

    show_history(factory, order)

    show_soft_delete(factory, "CAP-003")

    with factory() as first, factory() as second:
        mine, theirs = product(first, "MUG-001"), product(second, "MUG-001")
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
