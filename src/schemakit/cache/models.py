"""A read-through cache of model instances in Redis, cleared of a row when a session commits a change to it.

::

    registry = KeyRegistry()
    products = ModelCache(redis.Redis(), registry.cache("shop", "product"), Product)
    products.watch(session_factory)          # commits through this factory clear what they changed

    with session_factory() as session:
        product = products.get(session, product_id)   # Redis first, else the database (then Redis)

A cached row is its loaded columns as JSON, expiring with its kind's TTL; :meth:`ModelCache.get` puts it into
the session without a query (``merge(load=False)``). The ORM's own changes (inserts, updates, soft deletes,
deletes) clear their rows' keys once the transaction commits, never before, so a rolled-back change leaves the
cache alone. Bulk ``update()``/``delete()`` statements and other processes' writes are not seen: call
:meth:`ModelCache.forget` for them, or rely on the TTL. When Redis is down, reads come from the database and a
warning is logged; keys that could not be cleared expire with their TTL.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from schemakit.cache.keys import KeyKind
from schemakit.errors import SchemakitError

__all__ = ["ModelCache"]

T = TypeVar("T")
log = logging.getLogger(__name__)
_STALE = "schemakit.cache.stale"


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _decode(python_type: type | None, value: Any) -> Any:
    if value is None or python_type is None or not isinstance(value, str):
        return value
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is Decimal:
        return Decimal(value)
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    return value


def _python_type(column: Any) -> type | None:
    try:
        found: type = column.type.python_type
    except NotImplementedError:
        return None
    return found


class ModelCache(Generic[T]):
    """Instances of ``model`` cached under ``kind``'s keys (``<namespace>:<entity>:<primary key>``)."""

    def __init__(self, client: Any, kind: KeyKind, model: type[T]) -> None:
        self.client = client
        self.kind = kind
        self.model = model
        self._mapper = inspect(model)
        if len(self._mapper.primary_key) != 1:
            raise SchemakitError(f"ModelCache caches models with a one-column primary key; {model.__name__} has not")
        # Each column's Python type, worked out once rather than on every read from Redis.
        self._types = {attribute.key: _python_type(attribute.columns[0]) for attribute in self._mapper.column_attrs}

    def key(self, identifier: object) -> str:
        """The Redis key of one row."""
        return self.kind.key(identifier)

    def get(self, session: Session, identifier: object) -> T | None:
        """The row with this primary key: from Redis if cached there, else from the database (then cached).

        Redis being down costs the cache, never the read: the row comes from the database, with a warning.
        """
        key = self.key(identifier)
        cached = self._redis("read", lambda: self.client.get(key))
        if cached is not None:
            return session.merge(self._from_json(cached), load=False)
        found = session.get(self.model, identifier)
        if found is not None:
            encoded = self._to_json(found)
            self._redis("write", lambda: self.client.set(key, encoded, ex=self.kind.ttl))
        return found

    def forget(self, *identifiers: object) -> None:
        """Remove these rows from the cache (after a bulk statement or a write the ORM did not make).

        If Redis cannot be reached, the keys stay until their TTL ends; a warning names them.
        """
        if identifiers:
            keys = [self.key(identifier) for identifier in identifiers]
            self._redis(f"clear {', '.join(keys)}", lambda: self.client.delete(*keys))

    def _redis(self, doing: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            log.warning("the cache %s could not %s in Redis: %s", self.kind.prefix, doing, exc)
            return None

    def watch(self, factory: sessionmaker[Any]) -> None:
        """Clear a row's key when a session of ``factory`` commits a change to it."""
        event.listen(factory, "after_flush", self._note_changes)
        event.listen(factory, "after_commit", self._clear_changed)
        event.listen(factory, "after_rollback", self._drop_notes)

    def _note_changes(self, session: Session, _context: Any) -> None:
        stale: set[object] = session.info.setdefault(_STALE, set())
        for instance in (*session.new, *session.dirty, *session.deleted):
            identity = inspect(instance).identity if isinstance(instance, self.model) else None
            if identity:
                stale.add(identity[0])

    def _clear_changed(self, session: Session) -> None:
        self.forget(*session.info.pop(_STALE, set()))

    def _drop_notes(self, session: Session) -> None:
        session.info.pop(_STALE, None)

    def _to_json(self, instance: T) -> str:
        loaded = inspect(instance).dict
        values = {
            attribute.key: _encode(loaded[attribute.key])
            for attribute in self._mapper.column_attrs
            if attribute.key in loaded
        }
        return json.dumps(values)

    def _from_json(self, raw: bytes | str) -> T:
        values = json.loads(raw)
        decoded = {key: _decode(python_type, values[key]) for key, python_type in self._types.items() if key in values}
        instance = self._mapper.class_manager.new_instance()
        for name, value in decoded.items():
            set_committed_value(instance, name, value)  # as loaded, not as changed: merge(load=False) needs that
        make_transient_to_detached(instance)  # a row with its identity, as if loaded by a closed session
        return instance  # type: ignore[no-any-return]
