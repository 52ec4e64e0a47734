"""The checks of ``schemakit inspect``: what each finds, why it matters and how to fix it.

Static checks read the schema alone and fail the inspection; usage checks read PostgreSQL's statistics and warn,
since what they find (an index nobody used) depends on the traffic the database has served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CHECKS", "Check"]


@dataclass(frozen=True)
class Check:
    """One check.

    Attributes:
        name: Its name, as reports and ``--json`` give it.
        kind: ``static`` (the schema alone; a finding fails) or ``usage`` (statistics; a finding warns).
        why: Why a finding matters.
        fix: How to fix one.
        sqlite: Whether it applies to SQLite too (every check applies to PostgreSQL).
    """

    name: str
    kind: Literal["static", "usage"]
    why: str
    fix: str
    sqlite: bool = False


CHECKS: tuple[Check, ...] = (
    Check(
        "foreign-key-without-index",
        "static",
        "Deleting or updating a referenced row scans the whole referencing table, under lock, and joins on the key "
        "cannot use an index.",
        "Index the foreign key's columns (schemakit's models index every foreign key; autogenerate writes it).",
        sqlite=True,
    ),
    Check(
        "duplicate-index",
        "static",
        "Two identical indexes double the cost of every write and the space, for no read that one would not serve.",
        "Drop one of them (op.drop_index_online).",
        sqlite=True,
    ),
    Check(
        "redundant-index",
        "static",
        "An index whose columns begin another index serves no lookup the longer one does not, and costs every write.",
        "Drop the shorter index, unless it is much smaller and its lookups are hot.",
        sqlite=True,
    ),
    Check(
        "invalid-index",
        "static",
        "A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: never used for reads, still updated by writes.",
        "Drop it and build it again (op.create_index_online does both).",
    ),
    Check(
        "table-without-primary-key",
        "static",
        "Without a primary key rows cannot be addressed one by one: no ORM mapping, no logical replication of "
        "updates and deletes, duplicates go unnoticed.",
        "Add a primary key (UUIDv7PrimaryKeyMixin).",
        sqlite=True,
    ),
    Check(
        "nullable-unique-column",
        "static",
        "NULLs are distinct from each other, so a unique constraint over several columns lets in any number of rows "
        "that match except for a NULL in one of them.",
        "Make the columns NOT NULL, or use a unique index with NULLS NOT DISTINCT (PostgreSQL 15+) or a partial "
        "unique index per case.",
        sqlite=True,
    ),
    Check(
        "sequence-near-overflow",
        "static",
        "A sequence past three quarters of its range will run out: inserts then fail until the column is widened, "
        "a rewrite of the table.",
        "Widen the column and the sequence to bigint while there is time (an expand/contract change).",
    ),
    Check(
        "foreign-key-type-mismatch",
        "static",
        "A foreign key whose type differs from the key it references forces a cast on every join and check, and "
        "can outgrow it.",
        "Give the referencing column the referenced column's type.",
    ),
    Check(
        "not-valid-constraint",
        "static",
        "A constraint added NOT VALID and never validated checks new rows only: the existing ones may break it.",
        "VALIDATE CONSTRAINT it (the online operations do), after fixing the rows that break it.",
    ),
    Check(
        "duplicate-foreign-key",
        "static",
        "Two identical foreign keys check every write twice.",
        "Drop one of them.",
    ),
    Check(
        "unlogged-table",
        "static",
        "An UNLOGGED table is emptied after a crash and is not on streaming replicas or in point-in-time recovery.",
        "ALTER TABLE ... SET LOGGED, unless the data is truly disposable.",
    ),
    Check(
        "json-column",
        "static",
        "json keeps the text as written: no equality operator, no GIN index, parsed again on every read.",
        "Use jsonb (schemakit's JSON columns are jsonb on PostgreSQL).",
    ),
    Check(
        "timestamp-without-time-zone",
        "static",
        "timestamp without time zone drops the offset of what is written into it: times from clients in "
        "different zones become incomparable.",
        "Use timestamp with time zone (schemakit's UTCDateTime).",
    ),
    Check(
        "char-column",
        "static",
        "char(n) pads values with spaces and compares them in surprising ways; it is never faster than varchar.",
        "Use varchar(n) or text.",
    ),
    Check(
        "btree-index-on-array",
        "static",
        "A B-tree over an array column only serves equality of whole arrays; containment queries scan.",
        "Use a GIN index (postgresql_using='gin').",
    ),
    Check(
        "name-needs-quoting",
        "static",
        "A name with capitals, spaces or other characters must be quoted in every query, by every tool, forever.",
        "Rename it in lowercase snake_case (the naming convention does for constraints and indexes).",
        sqlite=True,
    ),
    Check(
        "disabled-trigger",
        "static",
        "A disabled trigger does nothing: an audit trail or an updated_at it keeps stops silently.",
        "ALTER TABLE ... ENABLE TRIGGER, or drop the trigger if it is no longer wanted.",
    ),
    Check(
        "security-definer-without-search-path",
        "static",
        "A SECURITY DEFINER function runs with its owner's rights but the caller's search_path, so a caller can "
        "make it call their own objects.",
        "Give it SET search_path (schemakit's own functions have one).",
    ),
    Check(
        "unused-index",
        "usage",
        "An index no query has used since the statistics were reset costs every write and its space.",
        "Check the other servers' statistics (replicas count their own reads), then drop it online.",
    ),
    Check(
        "sequential-scan-heavy-table",
        "usage",
        "A table of many rows read mostly by sequential scans is missing an index for a frequent query.",
        "Find the query (pg_stat_statements), confirm with EXPLAIN, then add the index online.",
    ),
    Check(
        "table-bloat",
        "usage",
        "Dead rows make every scan read more pages than the live rows need, until a vacuum reclaims them.",
        "Check autovacuum keeps up (its settings for the table); VACUUM, or pg_repack for heavy bloat.",
    ),
)
