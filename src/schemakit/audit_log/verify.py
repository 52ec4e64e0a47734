"""Checking the audit log's hash chain (``schemakit audit verify``), and pruning it (``schemakit audit prune``).

Each entry's hash is computed again from its fields; each batch's link again from the link before it and its
entries' hashes; the chain's head must name the last batch. The first entry that fails, in the log's order, is
named: an edited entry (its hash), an entry deleted from a batch or inserted into one (the batch's link), an
entry in no batch (written around the triggers), a missing tail (the head). What it proves: nobody changed the
log without also rewriting the chain from that point on. A role that can rewrite the whole table can rewrite
the chain too (a superuser can); the defence is that the application's role may only insert
(``schemakit roles``), and a copy of the head's link kept elsewhere.

Pruning removes whole batches older than a time and records the last removed link, so what remains verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, text

from schemakit.audit_log.tables import AUDIT_BATCHES, AUDIT_CHAIN, AUDIT_LOGS
from schemakit.types import UTCDateTime

__all__ = ["ChainReport", "prune", "verify_chain"]

_PG_RECOMPUTED = (
    "encode(sha256(convert_to(concat_ws('|', table_name, row_id, action, coalesce(actor, ''), changes::text, "
    "coalesce(transaction_id::text, '')), 'UTF8')), 'hex')"
)


@dataclass(frozen=True)
class ChainReport:
    """What verification found: the entries and batches checked, and the first problem (``None``: intact)."""

    entries: int
    batches: int
    problem: str | None

    @property
    def intact(self) -> bool:
        """Whether the whole log verified."""
        return self.problem is None


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _entries(connection: Connection) -> list[tuple[int, str, str]]:
    """Each entry's id, stored hash and hash computed again, in order."""
    if connection.dialect.name == "postgresql":
        query = f"SELECT id, hash, {_PG_RECOMPUTED} FROM {AUDIT_LOGS} ORDER BY id"
        return [(int(i), str(h), str(r)) for i, h, r in connection.execute(text(query))]
    rows = connection.execute(
        text(f"SELECT id, hash, table_name, row_id, action, actor, changes FROM {AUDIT_LOGS} ORDER BY id")
    )
    return [
        (int(i), str(h), _sha256(f"{table}|{row}|{action}|{actor or ''}|{changes}|"))
        for i, h, table, row, action, actor, changes in rows
    ]


def verify_chain(connection: Connection) -> ChainReport:
    """Verify the audit log behind ``connection`` from its first batch (or its last pruned one) to its head."""
    entries = _entries(connection)
    batches = connection.execute(
        text(f"SELECT id, first_entry, last_entry, link FROM {AUDIT_BATCHES} ORDER BY id")
    ).all()
    head = connection.execute(text(f"SELECT link, last_entry, pruned_link FROM {AUDIT_CHAIN} WHERE id = 1")).first()
    return ChainReport(len(entries), len(batches), _walk(entries, list(batches), head))


def _walk(entries: list[tuple[int, str, str]], batches: list[Row[Any]], head: Row[Any] | None) -> str | None:
    """The first problem, in the log's order, or ``None``."""
    by_id = {entry_id: (stored, recomputed) for entry_id, stored, recomputed in entries}
    link = str(head.pruned_link) if head is not None else ""
    for batch in batches:
        problem = _batch_problem(batch, by_id, link)
        if problem is not None:
            return problem
        link = batch.link
    covered = {entry_id for batch in batches for entry_id in range(batch.first_entry, batch.last_entry + 1)}
    stray = sorted(set(by_id) - covered)
    if stray:
        return f"entry {stray[0]} belongs to no batch: it was written around the audit triggers"
    if head is None:
        return "the chain's head (audit_chain) is missing" if batches else None
    last_entry = batches[-1].last_entry if batches else head.last_entry
    if head.link != link or head.last_entry != last_entry:
        return (
            f"the log ends at entry {last_entry or 'none'}, but the chain's head records entry {head.last_entry}: "
            "entries were removed from its end, or the log was truncated"
        )
    return None


def _batch_problem(batch: Row[Any], by_id: dict[int, tuple[str, str]], previous: str) -> str | None:
    ids = range(batch.first_entry, batch.last_entry + 1)
    where = f"batch {batch.id} (entries {ids.start} to {ids.stop - 1})"
    for entry_id in ids:
        if entry_id not in by_id:
            return f"entry {entry_id} was deleted: {where} lacks it"
        stored, recomputed = by_id[entry_id]
        if stored != recomputed:
            return f"entry {entry_id} was changed after it was written: its content does not match its hash"
    if _sha256(previous + "".join(by_id[entry_id][0] for entry_id in ids)) != batch.link:
        return f"{where} does not chain to the batch before it"
    return None


def prune(connection: Connection, before: datetime) -> int:
    """Remove the batches whose entries were all written before ``before``; the number of entries removed.

    The last removed batch's link is kept in the chain's head, so the rest of the log still verifies. Run it in
    a transaction: it locks the head, as a writer does.
    """
    lock = " FOR UPDATE" if connection.dialect.name == "postgresql" else ""
    connection.execute(text(f"SELECT link FROM {AUDIT_CHAIN} WHERE id = 1{lock}"))
    # The newest batch that is wholly older than the cutoff, with no newer entry before it.
    cutoff = connection.execute(
        text(
            f"SELECT b.id, b.last_entry, b.link FROM {AUDIT_BATCHES} AS b "
            f"WHERE NOT EXISTS (SELECT 1 FROM {AUDIT_LOGS} AS l "
            "WHERE l.id <= b.last_entry AND l.changed_at >= :before) ORDER BY b.id DESC LIMIT 1"
        ).bindparams(bindparam("before", before, type_=UTCDateTime())),
    ).first()
    if cutoff is None:
        return 0
    removed = connection.execute(
        text(f"DELETE FROM {AUDIT_LOGS} WHERE id <= :last"), {"last": cutoff.last_entry}
    ).rowcount
    connection.execute(text(f"DELETE FROM {AUDIT_BATCHES} WHERE id <= :batch"), {"batch": cutoff.id})
    connection.execute(text(f"UPDATE {AUDIT_CHAIN} SET pruned_link = :link WHERE id = 1"), {"link": cutoff.link})
    return int(removed)
