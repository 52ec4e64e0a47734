"""The naming convention that gives every index and constraint a predictable name.

Names are what migrations refer to when they alter or drop an object, so they must be the same on every
database and every run. The convention here names indexes and constraints after their table and all their
columns, and shortens any name longer than PostgreSQL's 63-byte limit the same way on every dialect (a prefix
and a hash of the full name), so SQLite and PostgreSQL agree on every name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import MetaData

#: PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
MAX_IDENTIFIER_BYTES = 63
_HASH_CHARS = 8


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier, the same on PostgreSQL and SQLite: ``"name"``, an inner ``"`` doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a quoted SQL string literal (PostgreSQL and SQLite): ``'value'``, an inner ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def qualified_name(name: str, schema: str | None = None) -> str:
    """A quoted table (or other object) name, with its schema when it has one: ``"schema"."name"``."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}" if schema else quote_identifier(name)


def shorten_identifier(name: str, limit: int = MAX_IDENTIFIER_BYTES) -> str:
    """Return ``name`` unchanged if it fits in ``limit`` bytes, else a deterministic shorter form.

    The short form keeps as much of the start of the name as fits and ends with ``_`` and the first eight hex
    digits of the SHA-256 of the full name, so two long names that share a prefix still differ.

    Args:
        name: The identifier to shorten.
        limit: The maximum length in UTF-8 bytes.

    Returns:
        An identifier of at most ``limit`` bytes.
    """
    encoded = name.encode()
    if len(encoded) <= limit:
        return name
    suffix = "_" + hashlib.sha256(encoded).hexdigest()[:_HASH_CHARS]
    prefix = encoded[: limit - len(suffix)].decode(errors="ignore").rstrip("_")
    return prefix + suffix


class _ShortenedTemplate(str):
    """A naming-convention template whose rendered names are shortened to the identifier limit.

    SQLAlchemy renders a convention with ``template % tokens``; overriding ``%`` keeps all of SQLAlchemy's own
    tokens (``column_0_N_name``, ``referred_table_name``, the check on unnamed constraints) while making the
    result fit PostgreSQL on every dialect, instead of each dialect truncating its own way at compile time.
    """

    __slots__ = ()

    def __mod__(self, values: Any) -> str:
        return shorten_identifier(str.__mod__(self, values))


#: The naming convention of :func:`make_metadata`, by SQLAlchemy's constraint keys.
NAMING_CONVENTION: Mapping[str, str] = {
    "ix": _ShortenedTemplate("idx_%(table_name)s_%(column_0_N_name)s"),
    "uq": _ShortenedTemplate("uq_%(table_name)s_%(column_0_N_name)s"),
    "ck": _ShortenedTemplate("chk_%(table_name)s_%(constraint_name)s"),
    "fk": _ShortenedTemplate("fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s"),
    "pk": _ShortenedTemplate("pk_%(table_name)s"),
}


def make_metadata(schema: str | None = None) -> MetaData:
    """Return a new :class:`~sqlalchemy.MetaData` that uses :data:`NAMING_CONVENTION`.

    Args:
        schema: The default schema for tables, if not the database's default one.

    Returns:
        An empty metadata collection.
    """
    return MetaData(schema=schema, naming_convention=dict(NAMING_CONVENTION))
