"""Full-text search on SQLite: an FTS5 table beside a searchable table, kept in step by triggers.

``<table>_search`` holds each row's key and its searchable columns (``porter unicode61`` tokens for English,
``unicode61`` otherwise); three triggers copy every insert, update and delete into it. A key is looked up by a
scan of the FTS5 table on update and delete, which suits SQLite's place (local work and tests), not millions of
rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from schemakit.naming import quote_identifier, shorten_identifier

__all__ = ["BM25_WEIGHTS", "drop_sqlite_search_ddl", "fts_query", "fts_table", "sqlite_search_ddl"]

#: Each weight's factor in SQLite's ``bm25()``: PostgreSQL's ``ts_rank`` defaults (A 1.0, B 0.4, C 0.2, D 0.1).
BM25_WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_table(table: str) -> str:
    """The FTS5 table of ``table``: ``<table>_search``."""
    return shorten_identifier(f"{table}_search")


def _triggers(table: str) -> tuple[str, str, str]:
    return tuple(shorten_identifier(f"trg_{table}_search_{event}") for event in ("insert", "update", "delete"))  # type: ignore[return-value]


def sqlite_search_ddl(table: str, key: str, columns: Mapping[str, str], language: str) -> list[str]:
    """The statements that create (or re-create) the FTS5 table of ``table``, fill it and keep it in step."""
    search, target, key_ = quote_identifier(fts_table(table)), quote_identifier(table), quote_identifier(key)
    names = [quote_identifier(column) for column in columns]
    tokenizer = "porter unicode61" if language == "english" else "unicode61"
    insert, update, delete = (quote_identifier(name) for name in _triggers(table))
    copy_new = (
        f"INSERT INTO {search} (key, {', '.join(names)}) VALUES (NEW.{key_}, {', '.join(f'NEW.{n}' for n in names)});"
    )
    forget_old = f"DELETE FROM {search} WHERE key = OLD.{key_};"
    return [
        *drop_sqlite_search_ddl(table),
        f"CREATE VIRTUAL TABLE {search} USING fts5(key UNINDEXED, {', '.join(names)}, tokenize='{tokenizer}')",
        f"INSERT INTO {search} (key, {', '.join(names)}) SELECT {key_}, {', '.join(names)} FROM {target}",
        f"CREATE TRIGGER {insert} AFTER INSERT ON {target} BEGIN {copy_new} END",
        f"CREATE TRIGGER {update} AFTER UPDATE ON {target} BEGIN {forget_old} {copy_new} END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {target} BEGIN {forget_old} END",
    ]


def drop_sqlite_search_ddl(table: str) -> list[str]:
    """The statements that remove the FTS5 table of ``table`` and its triggers."""
    triggers = [f"DROP TRIGGER IF EXISTS {quote_identifier(name)}" for name in _triggers(table)]
    return [*triggers, f"DROP TABLE IF EXISTS {quote_identifier(fts_table(table))}"]


def fts_query(text: str) -> str:
    """An FTS5 query matching rows with every word of ``text`` (as ``websearch_to_tsquery`` does), or ``""``."""
    return " ".join(f'"{word}"' for word in _WORD.findall(text))
