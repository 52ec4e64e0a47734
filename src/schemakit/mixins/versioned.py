"""Optimistic locking with a version counter, checked for a whole flush at once.

SQLAlchemy's own ``version_id_col`` checks each row in an ``UPDATE`` of its own, since it needs every row's
count of matched rows: a flush of 5,000 changed rows costs 5,000 round trips. schemakit checks them together
instead. When a flush is about to update or delete rows of versioned models, one statement a table counts, on
the server, the rows still at the version the session loaded and locks them until the transaction ends
(``FOR NO KEY UPDATE``, the lock the ``UPDATE`` itself takes); if the count falls short, the stale or vanished
rows are looked up, named in the error, and nothing is written. The counters are then bumped in the objects,
so the ``UPDATE`` statements carry them and go as one batch, which no other writer can overtake while the rows
are locked. SQLite has no row locks: there a write statement that matches nothing takes the database's write
lock before the versions are counted.

The listener comes with the first versioned model mapped, never with the import alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    event,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, Session, UOWTransaction, mapped_column
from sqlalchemy.orm.attributes import instance_state

from schemakit.conflicts import ConcurrentUpdateError, VersionMismatchError

__all__ = ["VersionedMixin", "version_column"]

#: The rows of one table a flush claims: by primary key, the object, its loaded version, and whether it is updated.
_Claims = dict[tuple[Any, ...], tuple["VersionedMixin", int, bool]]
#: What a flush needs of a versioned class: its table and the names of its column attributes.
_Plan = tuple[Table, frozenset[str]] | None
#: Rows whose versions one ``SELECT`` reads (below every database's limit on bound parameters).
_CHUNK = 900


class VersionedMixin:
    """Adds ``version``, a counter that makes concurrent writes to one row fail instead of overwriting.

    The row starts at version 1. Each ORM flush that updates or deletes the row checks that it is still at the
    version the session loaded, and bumps it by one; if another transaction got there first, the flush raises
    :class:`~schemakit.errors.ConcurrentUpdateError` (a subclass of SQLAlchemy's ``StaleDataError``) naming
    the rows, and writes nothing. The rows of a flush are checked together (see the module documentation).

    Bulk ``update()`` statements bypass the counter, as they bypass the ORM.
    """

    version: Mapped[int] = mapped_column(nullable=False, default=1, sort_order=90)

    def expect_version(self, expected: int) -> None:
        """Check a client-supplied version (an ``If-Match`` header, a hidden form field) before writing.

        Call it on the freshly loaded row before changing it. If it passes, the flush still checks the version,
        so a writer that slips in between is caught too.

        Args:
            expected: The version the client last saw.

        Raises:
            VersionMismatchError: If the row is at another version; nothing has been written.
        """
        if self.version != expected:
            raise VersionMismatchError(type(self).__name__, expected=expected, actual=self.version)


def version_column(mapper: Mapper[Any]) -> Column[Any] | None:
    """The version counter of a mapped class: :class:`VersionedMixin`'s, or SQLAlchemy's ``version_id_col``."""
    if issubclass(mapper.class_, VersionedMixin):
        column = mapper.columns["version"]
        return column if isinstance(column, Column) else None
    return mapper.version_id_col  # type: ignore[return-value]


@event.listens_for(VersionedMixin, "after_mapper_constructed", propagate=True)
def _check_versions_at_flush(_mapper: Mapper[Any], _class: type) -> None:
    # Registered once, with the first versioned model, on every Session (the application's own ones too).
    if not event.contains(Session, "before_flush", _claim_versions):
        event.listen(Session, "before_flush", _claim_versions)


def _claim_versions(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    # Per row this runs in the flush of every versioned row, so it stays on plain dictionaries and attributes.
    claims: dict[Table, _Claims] = defaultdict(dict)
    # By class, not by mapper: type() is cheaper than state.mapper, which each new state computes again.
    plans: dict[type, _Plan] = {}
    for instances, updating in ((session.dirty, True), (session.deleted, False)):
        for instance in instances:
            cls = type(instance)
            if cls not in plans:
                plans[cls] = _plan(instance)
            if (plan := plans[cls]) is None:
                continue
            state = instance_state(instance)
            if state.key is None:
                continue
            table, columns = plan
            committed, current = state.committed_state, instance.__dict__
            if updating and not _changed(session, instance, committed, current, columns):
                continue
            # The version as loaded: the committed value if the application changed it, else the current one.
            loaded = committed.get("version")
            if not isinstance(loaded, int):
                # Not current.get("version", instance.version): that reads the attribute (and may load it) every time.
                loaded = current["version"] if "version" in current else instance.version  # noqa: SIM401
            claims[table][state.key[1]] = (instance, loaded, updating)
    for table, rows in claims.items():
        _check(session, table, rows)
        for instance, loaded, updating in rows.values():
            if updating:
                instance.version = loaded + 1


def _plan(instance: object) -> _Plan:
    """The versioned table of an instance's class and its column attributes; ``None`` if it has no counter."""
    if not isinstance(instance, VersionedMixin):
        return None
    mapper = instance_state(instance).mapper
    column = version_column(mapper)
    return None if column is None else (column.table, frozenset(mapper.column_attrs.keys()))


def _changed(
    session: Session, instance: Any, committed: dict[str, Any], current: dict[str, Any], columns: frozenset[str]
) -> bool:
    """Whether the flush will write the row: a column holds another value than the loaded one."""
    if not committed.keys() <= columns:
        return session.is_modified(instance)  # relationships and collections: SQLAlchemy's own judgement
    # A loop, not any() over a generator, which made this test take 2.5 times as long (5 ms a flush of 5,000 rows).
    for key, value in committed.items():  # noqa: SIM110
        if current.get(key, value) != value:
            return True
    return False


def _check(session: Session, table: Table, rows: _Claims) -> None:
    """Lock the rows and compare their versions with the loaded ones; raise on any difference."""
    connection = session.connection(bind_arguments={"clause": table})
    row_locks = connection.dialect.name != "sqlite"
    if not row_locks:
        # SQLite locks the whole database for a writer: a write statement that matches nothing takes that lock,
        # so no other writer can come between the check and the flush's own UPDATE. Its key compared with NULL
        # is a search on the key that finds nothing (WHERE false would show in a plan as a scan of the table).
        nothing = next(iter(table.primary_key.columns)) == literal_column("NULL")
        connection.execute(update(table).where(nothing).values(version=table.c.version))
    # The server counts the rows still at their loaded version (and locks them): nothing comes back but a number.
    if _still_loaded(connection, table, rows, lock=row_locks) == len(rows):
        return
    found = _versions(connection, table, list(rows))
    stale = [(identity, loaded) for identity, (_, loaded, _) in rows.items() if found.get(identity) != loaded]
    raise ConcurrentUpdateError(_conflict(table, stale, found, len(rows)))


def _still_loaded(connection: Connection, table: Table, rows: _Claims, *, lock: bool) -> int:
    """How many of the rows are at the version this session loaded; those are locked if ``lock``."""
    key_columns = list(table.primary_key.columns)
    if len(key_columns) == 1 and connection.dialect.name == "postgresql":
        return connection.scalar(_count_by_arrays(table, rows, lock=lock)) or 0
    matches: list[Select[Any]] = []
    if connection.dialect.name == "sqlite" and (pairs := _as_json(connection, key_columns, rows)):
        # One JSON parameter, read by SQLite's json_each, instead of two bound parameters a row.
        loaded = func.json_each(bindparam("pairs", pairs)).table_valued("value", name="loaded")
        key_matches = key_columns[0] == func.json_extract(loaded.c.value, "$[0]")
        version_matches = table.c.version == func.json_extract(loaded.c.value, "$[1]")
        matches.append(select(literal(1)).select_from(table.join(loaded, and_(key_matches, version_matches))))
    else:
        keyed = [(*identity, version) for identity, (_, version, _) in rows.items()]
        for chunk in _chunks(keyed, _CHUNK):
            matches.append(select(literal(1)).where(tuple_(*key_columns, table.c.version).in_(chunk)))
    counted = 0
    for match in matches:
        # FOR NO KEY UPDATE, as in _count_by_arrays.
        locked = match.with_for_update(of=table, key_share=True) if lock else match
        counted += connection.scalar(select(func.count()).select_from(locked.subquery())) or 0
    return counted


def _count_by_arrays(table: Table, rows: _Claims, *, lock: bool) -> Select[Any]:
    """One statement with two array parameters, whatever the number of rows.

    Each loaded key probes the primary key in a ``LATERAL`` subquery. A plain join lets the planner hash the
    whole table instead, once a flush holds a few thousand rows: a cost that grew with the table, not the flush.
    """
    key = next(iter(table.primary_key.columns))
    loaded = func.unnest(*_arrays(key, rows)).table_valued("key", "version", name="loaded").render_derived()
    row = select(literal(1)).where(key == loaded.c.key, table.c.version == loaded.c.version)
    # FOR NO KEY UPDATE: the lock the UPDATE itself takes, which lets rows that refer to these be inserted.
    claimed = (row.with_for_update(key_share=True) if lock else row).lateral("claimed")
    return select(func.count()).select_from(loaded).join(claimed, true())


def _arrays(key: Column[Any], rows: _Claims) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The keys and the loaded versions as two PostgreSQL arrays.

    UUIDs and integers go as array literals, one string each, which PostgreSQL parses: psycopg would adapt a
    list in Python item by item (about 2 µs a key), and asyncpg looks up an array type's codec on each new
    connection (about 8 ms). Neither needs quoting in a literal; other keys go as a typed array.
    """
    keys = [identity[0] for identity in rows]
    loaded_versions = _array_literal([version for _, version, _ in rows.values()])
    versions = cast(bindparam("versions", loaded_versions), ARRAY(Integer()))
    if all(isinstance(identity, UUID) for identity in keys):
        # Each key's 16 bytes as hex, a comma between keys: a third of the time of joining each key's .hex.
        written = "{" + b"".join([identity.bytes for identity in keys]).hex(",", 16) + "}"
    elif all(type(identity) is int for identity in keys):
        written = _array_literal(keys)
    else:
        return bindparam("keys", keys, type_=ARRAY(key.type)), versions
    return cast(bindparam("keys", written), ARRAY(key.type)), versions


def _array_literal(values: list[Any]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _as_json(
    connection: Connection,
    key_columns: list[Column[Any]],
    rows: _Claims,
) -> str | None:
    """A one-column key as stored, with the loaded version, as JSON pairs; ``None`` for other keys."""
    if len(key_columns) != 1:
        return None
    process = key_columns[0].type.bind_processor(connection.dialect)
    pairs = [[process(identity[0]) if process else identity[0], version] for identity, (_, version, _) in rows.items()]
    return json.dumps(pairs) if all(isinstance(stored, str | int) for stored, _ in pairs) else None


def _versions(connection: Connection, table: Table, keys: list[tuple[Any, ...]]) -> dict[Any, int]:
    """The current versions of the rows with these keys (to name the stale ones)."""
    key_columns = list(table.primary_key.columns)
    found: dict[tuple[Any, ...], int] = {}
    for condition in _matching(connection, key_columns, keys):
        for row in connection.execute(select(*key_columns, table.c.version).where(condition)):
            found[tuple(row[: len(key_columns)])] = row[-1]
    return found


def _matching(
    connection: Connection, key_columns: list[Column[Any]], keys: list[tuple[Any, ...]]
) -> Iterator[ColumnElement[bool]]:
    """Conditions that together match the rows with these keys."""
    if len(key_columns) == 1 and connection.dialect.name == "postgresql":
        # One array parameter: one statement, whatever the number of rows.
        column = key_columns[0]
        yield column == any_(bindparam("keys", [key for (key,) in keys], type_=ARRAY(column.type)))
        return
    key = key_columns[0] if len(key_columns) == 1 else tuple_(*key_columns)
    for chunk in _chunks(keys, _CHUNK):
        yield key.in_([identity[0] for identity in chunk] if len(key_columns) == 1 else chunk)


def _conflict(table: Table, stale: Sequence[tuple[Any, int]], found: dict[Any, int], total: int) -> str:
    shown = []
    for identity, loaded in stale[:5]:
        now = found.get(identity)
        label = identity[0] if len(identity) == 1 else identity
        state = "is gone" if now is None else f"is at version {now}"
        shown.append(f"{table.name} {label} {state}, but this session loaded version {loaded}")
    more = f" (and {len(stale) - 5} more)" if len(stale) > 5 else ""
    return (
        f"{len(stale)} of {total} row(s) changed since they were loaded: {'; '.join(shown)}{more}. Another "
        "transaction changed or deleted them; reload them and apply the change again"
    )


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
