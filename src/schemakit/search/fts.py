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

__all__ = ["WEIGHT_VALUES", "drop_sqlite_search_ddl", "fts_query", "fts_table", "sqlite_search_ddl"]

#: What an occurrence of a query word counts, by its column's weight (PostgreSQL's ``ts_rank`` defaults).
WEIGHT_VALUES = {"A": 1.0, "B": 0.4, "C": 0.2, "D": 0.1}
_WORD = re.compile(r"\w+", re.UNICODE)
# PostgreSQL's English stop words (its english.stop, from Snowball): never indexed there, so left out of an
# English query here too, which keeps the two dialects' results the same.
_ENGLISH_STOP_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
        "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
        "was were be been being have has had having do does did doing a an the and but if or because as until while of "
        "at by for with about against between into through during before after above below to from up down in out on "
        "off over under again further then once here there when where why how all any both each few more most other "
        "some such no nor not only own same so than too very s t can will just don should now"
    ).split()
)


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


def fts_query(text: str, language: str = "english") -> str:
    """An FTS5 query matching rows with every word of ``text`` (as ``websearch_to_tsquery`` does), or ``""``.

    English stop words are left out, as PostgreSQL leaves them out.
    """
    words = _WORD.findall(text)
    if language == "english":
        words = [word for word in words if word.lower() not in _ENGLISH_STOP_WORDS]
    return " ".join(f'"{word}"' for word in words)
