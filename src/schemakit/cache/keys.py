"""Redis keys by one pattern, and a registry of the kinds of key an application writes.

Every key reads ``<namespace>:<entity>:<id>`` or ``<namespace>:<entity>:<id>:<attribute>``
(``shop:product:0192...``, ``shop:session:ab12:cart``). A :class:`KeyKind` names a namespace and an entity
together with the Redis data type its keys hold and their time to live; a :class:`KeyRegistry` holds an
application's kinds, builds their keys, and tells which kind a key found in Redis belongs to (the audit of
``schemakit redis check`` reports the keys that belong to none, and the keys without a TTL).

The defaults follow the common split: cached values expire after an hour (:data:`CACHE_TTL`), sessions after a
day (:data:`SESSION_TTL`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from schemakit.errors import SchemakitError

__all__ = ["CACHE_TTL", "SESSION_TTL", "KeyKind", "KeyRegistry"]

#: Seconds a cached value lives by default.
CACHE_TTL = 3600
#: Seconds a session lives by default.
SESSION_TTL = 86400

DataType = Literal["string", "hash", "list", "set", "zset"]
_PART = re.compile(r"[a-z0-9_-]+")


@dataclass(frozen=True)
class KeyKind:
    """A kind of key: ``namespace:entity``, the data type its keys hold, and their TTL (``None``: no expiry).

    A queue (a list) or a rate limiter's window (a sorted set) may live without a TTL; a cached value or a
    session never should.
    """

    namespace: str
    entity: str
    data_type: DataType = "string"
    ttl: int | None = CACHE_TTL

    def __post_init__(self) -> None:
        for part in (self.namespace, self.entity):
            if not _PART.fullmatch(part):
                raise SchemakitError(f"{part!r} is not a key part: use lowercase letters, digits, _ and -")
        if self.ttl is not None and self.ttl <= 0:
            raise SchemakitError(f"the TTL of {self.prefix} is {self.ttl}; give a positive number of seconds")

    @property
    def prefix(self) -> str:
        """``namespace:entity``."""
        return f"{self.namespace}:{self.entity}"

    def key(self, identifier: object, attribute: str | None = None) -> str:
        """The key of one ``identifier``, or of one attribute of it."""
        text = str(identifier)
        if not text or ":" in text:
            raise SchemakitError(f"{text!r} cannot be a key's id: it is empty or holds ':'")
        return f"{self.prefix}:{text}" + (f":{attribute}" if attribute else "")


class KeyRegistry:
    """An application's kinds of key, by ``namespace:entity``."""

    def __init__(self, *kinds: KeyKind) -> None:
        self._kinds: dict[str, KeyKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: KeyKind) -> KeyKind:
        """Add a kind; registering a different kind under the same prefix is an error."""
        existing = self._kinds.get(kind.prefix)
        if existing is not None and existing != kind:
            raise SchemakitError(f"{kind.prefix} is registered already, as {existing}")
        self._kinds[kind.prefix] = kind
        return kind

    def cache(self, namespace: str, entity: str, *, ttl: int = CACHE_TTL) -> KeyKind:
        """Register a cache kind: a string, expiring after ``ttl`` seconds."""
        return self.register(KeyKind(namespace, entity, "string", ttl))

    def session(self, namespace: str, entity: str = "session", *, ttl: int = SESSION_TTL) -> KeyKind:
        """Register a session kind: a hash, expiring after ``ttl`` seconds."""
        return self.register(KeyKind(namespace, entity, "hash", ttl))

    def kinds(self) -> list[KeyKind]:
        """Every registered kind."""
        return list(self._kinds.values())

    def kind_of(self, key: str) -> KeyKind | None:
        """The kind ``key`` belongs to, or ``None``."""
        parts = key.split(":")
        if len(parts) not in (3, 4) or not parts[2]:
            return None
        return self._kinds.get(f"{parts[0]}:{parts[1]}")
