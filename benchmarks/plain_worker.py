"""The plain-SQLAlchemy baseline of ``bench_mixins``, in a process that never imports schemakit.

A model with the same columns as the every-mixin model, filled by hand, on SQLAlchemy's own ``Session`` and
``create_engine`` defaults: what an application without schemakit would write. Importing schemakit registers
nothing for such a model, but this process proves it by never importing it.

It reads one JSON command a line on standard input and answers each with one JSON line: the seconds the work
took, timed here, so process start-up and the pipe are not counted.

    {"op": "setup", "url": "postgresql+psycopg://..."}
    {"op": "insert", "rows": 100000}       -> {"seconds": ...}  (into the emptied table)
    {"op": "lookup", "count": 10000}       -> {"seconds": ...}
    {"op": "lookup", "count": 10000, "filter_listener": false}  (--beside-schemakit: that run without it)
    {"op": "update", "count": 5000}        -> {"seconds": ...}

An async URL (``postgresql+asyncpg://``) runs the updates on an ``AsyncSession``; the other operations use
the sync driver of the same database. With ``--beside-schemakit`` the process also imports schemakit and maps
a soft-deletable model, as an application does, so that the plain model's costs can be compared with and
without schemakit's listeners in the same kind of process.

Before each timed operation the objects already alive are moved out of the garbage collector's reach
(``gc.freeze``), so that neither side pays for what its process happened to hold before.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import URL, DateTime, Engine, String, Uuid, create_engine, delete, event, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from uuid6 import uuid7  # time-ordered ids as schemakit makes them, from a package that is not schemakit


class Base(DeclarativeBase):
    pass


class Plain(Base):
    __tablename__ = "bench_plain"
    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    version: Mapped[int]
    created_by: Mapped[str | None] = mapped_column(String(255))
    updated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def sync_url(url: str) -> URL:
    """The same database through a sync driver."""
    parsed = make_url(url)
    driver = {"asyncpg": "postgresql+psycopg", "aiosqlite": "sqlite"}.get(parsed.get_driver_name())
    return parsed.set(drivername=driver) if driver else parsed


def plain_row(n: int) -> Plain:
    now = datetime.now(UTC)
    return Plain(
        id=uuid7(), name=f"row {n}", version=1, created_by="bench", updated_by="bench", created_at=now, updated_at=now
    )


def insert(engine: Engine, rows: int) -> None:
    with Session(engine) as session:
        session.add_all([plain_row(n) for n in range(rows)])
        session.commit()


def lookup(engine: Engine, count: int) -> float:
    with Session(engine) as session:
        keys = list(session.scalars(select(Plain.id).order_by(Plain.id).limit(count)))
    started = time.perf_counter()
    with Session(engine) as session:
        for key in keys:
            session.execute(select(Plain).where(Plain.id == key)).scalar_one()
            session.expunge_all()
    return time.perf_counter() - started


def change(rows: list[Plain]) -> None:
    for row in rows:
        row.name = f"{row.name[:40]}!"
        row.updated_at = datetime.now(UTC)
        row.updated_by = "bench"


def update(engine: Engine, count: int) -> float:
    with Session(engine) as session:
        rows = list(session.scalars(select(Plain).order_by(Plain.id).limit(count)))
        started = time.perf_counter()
        change(rows)
        session.commit()
        return time.perf_counter() - started


async def update_async(url: str, count: int) -> float:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            rows = list(await session.scalars(select(Plain).order_by(Plain.id).limit(count)))
            started = time.perf_counter()
            change(rows)
            await session.commit()
            return time.perf_counter() - started
    finally:
        await engine.dispose()


def settle() -> None:
    """Leave the collector only the objects the timed operation makes."""
    gc.collect()
    gc.freeze()


def map_beside_schemakit() -> None:
    """Import schemakit and map one of its soft-deletable models, as an application using it would."""
    from schemakit import SoftDeleteMixin

    class Archived(SoftDeleteMixin, Base):
        __tablename__ = "bench_archived"
        id: Mapped[int] = mapped_column(primary_key=True)

    del Archived


def use_filter_listener(used: bool) -> None:
    """Register schemakit's soft-delete listener, or take it away, so that its own cost can be timed.

    It is a private name: what this measures is exactly that listener, in the same process either way.
    """
    from schemakit.mixins.soft_delete import _hide_soft_deleted

    registered = event.contains(Session, "do_orm_execute", _hide_soft_deleted)
    if used and not registered:
        event.listen(Session, "do_orm_execute", _hide_soft_deleted)
    elif registered and not used:
        event.remove(Session, "do_orm_execute", _hide_soft_deleted)


def main() -> None:
    if "--beside-schemakit" in sys.argv:
        map_beside_schemakit()
    engine: Engine | None = None
    url = ""
    for line in sys.stdin:
        command: dict[str, Any] = json.loads(line)
        op = command["op"]
        answer: dict[str, Any] = {}
        if op == "setup":
            url = command["url"]
            engine = create_engine(sync_url(url))
            Base.metadata.drop_all(engine)
            Base.metadata.create_all(engine)
            answer["schemakit_imported"] = any(name.split(".")[0] == "schemakit" for name in sys.modules)
        elif engine is None:
            raise SystemExit("setup first")
        elif op == "insert":
            with engine.begin() as connection:
                connection.execute(delete(Plain.__table__))
            settle()
            started = time.perf_counter()
            insert(engine, command["rows"])
            answer["seconds"] = time.perf_counter() - started
        elif op in {"lookup", "update"}:
            # A new server connection for each run: over many runs, neither side keeps one that happens to be
            # placed well (or badly) beside its client on a machine with few cores.
            engine.dispose()
            settle()
            if op == "lookup":
                if "--beside-schemakit" in sys.argv:
                    use_filter_listener(command.get("filter_listener", True))
                answer["seconds"] = lookup(engine, command["count"])
            else:
                count, is_async = command["count"], make_url(url).get_dialect().is_async
                answer["seconds"] = asyncio.run(update_async(url, count)) if is_async else update(engine, count)
        print(json.dumps(answer), flush=True)
    if engine is not None:
        Base.metadata.drop_all(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
