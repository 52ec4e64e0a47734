"""The SQL that records changes in the database: triggers, so bulk statements and raw SQL are recorded too.

PostgreSQL: one function, ``schemakit_audit()``, run by three statement-level triggers a table (after INSERT,
UPDATE and DELETE) that read the changed rows from transition tables: one set-based INSERT records a statement's
rows, however many. A one-row statement (an ORM flush) runs a generic form plpgsql plans once; a bulk statement
runs one written for the table's columns as they are at that moment (``schemakit_audit_statement()``), so
neither needs re-creating when a column is added or dropped. The function locks the chain's head
(``audit_chain``) until the transaction ends, hashes each entry, and chains the statement's entries, as one
batch, to the batch before.

SQLite: three row-level triggers a table, which call two functions schemakit registers on every SQLite
connection it makes (:mod:`schemakit.audit_log.capture`): ``schemakit_actor()`` and ``schemakit_sha256()``. A
connection without them (the ``sqlite3`` shell) cannot write an audited table: it fails rather than write
unrecorded.

The actor is the transaction's ``schemakit.actor`` setting (PostgreSQL) or the connection's current actor
(SQLite), written by schemakit's sessions and connections inside :func:`schemakit.audit.acting_as`; raw SQL
without one is recorded with none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Table

from schemakit.naming import quote_identifier, quote_literal, shorten_identifier

__all__ = [
    "ACTOR_SETTING",
    "AUDIT_FUNCTION",
    "CHAIN_HEAD",
    "STATEMENT_FUNCTION",
    "audit_function_ddl",
    "audit_trigger_ddl",
    "audit_trigger_names",
    "drop_audit_trigger_ddl",
]

#: The PostgreSQL trigger function that records changes.
AUDIT_FUNCTION = "schemakit_audit"
#: The PostgreSQL function that writes the statement recording a bulk statement's rows.
STATEMENT_FUNCTION = "schemakit_audit_statement"
#: The PostgreSQL setting that holds the transaction's actor.
ACTOR_SETTING = "schemakit.actor"

# An entry's hash: the SHA-256 of its fields, joined; the verifier computes the same in the same database.
_PG_HASH = (
    "encode(sha256(convert_to(concat_ws('|', {table}, c.row_id, c.action, coalesce({actor}, ''), c.changes::text, "
    "coalesce({transaction}::text, '')), 'UTF8')), 'hex')"
)


def _pg_write(changed: str, table: str, actor: str, transaction: str) -> str:
    """The statement that writes the entries ``changed`` selects (``row_id``, ``action``, ``changes``).

    It returns the batch's first entry, its last entry and its entries' hashes in order.
    """
    entry_hash = _PG_HASH.format(table=table, actor=actor, transaction=transaction)
    return f"""WITH written AS (
            INSERT INTO audit_logs (table_name, row_id, action, actor, changes, transaction_id, hash)
            SELECT {table}, c.row_id, c.action, {actor}, c.changes, {transaction}, {entry_hash}
            FROM ({changed}) AS c WHERE c.changes <> '{{}}'
            RETURNING id, hash
        )
        SELECT min(id), max(id), string_agg(hash, '' ORDER BY id) FROM written"""


# One row (an ORM flush): generic over the table's columns, so plpgsql plans it once a session. Each changed
# column as [old, new]; an insert or a delete records every non-null column; an update leaves updated_at out
# (the entry's own time says when).
_PG_ONE_ROW = {
    "INSERT": """SELECT r ->> key AS row_id, 'insert' AS action,
                   (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(NULL, v)), '{}')
                      FROM jsonb_each(r) AS e(k, v) WHERE v <> 'null') AS changes
              FROM (SELECT to_jsonb(n) AS r FROM new_rows AS n) AS one OFFSET 0""",
    "DELETE": """SELECT r ->> key AS row_id, 'delete' AS action,
                   (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(v, NULL)), '{}')
                      FROM jsonb_each(r) AS e(k, v) WHERE v <> 'null') AS changes
              FROM (SELECT to_jsonb(o) AS r FROM old_rows AS o) AS one OFFSET 0""",
    "UPDATE": """SELECT b ->> key AS row_id,
                   CASE WHEN a ->> soft IS NULL AND b ->> soft IS NOT NULL THEN 'soft_delete'
                        WHEN a ->> soft IS NOT NULL AND b ->> soft IS NULL THEN 'restore'
                        ELSE 'update' END AS action,
                   (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(a -> k, v)), '{}')
                      FROM jsonb_each(b) AS e(k, v) WHERE k <> 'updated_at' AND (a -> k) IS DISTINCT FROM v) AS changes
              FROM (SELECT to_jsonb(o) AS a, to_jsonb(n) AS b FROM old_rows AS o, new_rows AS n) AS one OFFSET 0""",
}

# Many rows (a bulk statement): a statement written for the table's columns as they are now and planned once
# for it. It compares typed values (as text, for a type without equality) and builds each entry from its
# changed columns alone: the same entries as the one-row form, at a fraction of its cost a row.
_PG_MANY_ROWS = _pg_write(
    "SELECT %1$s.%2$I::text AS row_id, %3$s AS action, %4$s AS changes FROM %5$s OFFSET 0", "$3", "$1", "$2"
)
_PG_STATEMENT_FUNCTION = f"""CREATE OR REPLACE FUNCTION {STATEMENT_FUNCTION}(
    relation oid, operation text, key text, soft text
) RETURNS text LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    side text := CASE operation WHEN 'DELETE' THEN 'o' ELSE 'n' END;
    action text := quote_literal(lower(operation));
    source text := format('%s_rows AS %s', CASE operation WHEN 'DELETE' THEN 'old' ELSE 'new' END, side);
    changed text := 'CASE WHEN %2$s IS DISTINCT FROM %3$s '
                    'THEN jsonb_build_object(%1$L, jsonb_build_array(o.%1$I, n.%1$I)) ELSE ''{{}}'' END';
    present text := 'CASE WHEN %1$s.%2$I IS NOT NULL '
                    'THEN jsonb_build_object(%2$L, jsonb_build_array(%3$s)) ELSE ''{{}}'' END';
    changes text;
BEGIN
    SELECT string_agg(CASE operation
               WHEN 'UPDATE' THEN format(changed, attname, format(compared, 'o', attname),
                                         format(compared, 'n', attname))
               WHEN 'INSERT' THEN format(present, side, attname, format('NULL, n.%I', attname))
               ELSE format(present, side, attname, format('o.%I, NULL', attname))
           END, ' || ' ORDER BY attnum)
      INTO changes
      FROM (SELECT a.attname, a.attnum,
                   CASE WHEN EXISTS (SELECT FROM pg_operator WHERE oprname = '=' AND oprleft = a.atttypid
                                                             AND oprright = a.atttypid)
                        THEN '%s.%I' ELSE '%s.%I::text' END AS compared
              FROM pg_attribute AS a
             WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped
               AND (operation <> 'UPDATE' OR a.attname <> 'updated_at')) AS columns;
    IF operation = 'UPDATE' THEN
        source := format('old_rows AS o JOIN new_rows AS n ON o.%1$I = n.%1$I', key);
        IF soft IS NOT NULL THEN
            action := format('CASE WHEN o.%1$I IS NULL AND n.%1$I IS NOT NULL THEN ''soft_delete'' '
                             'WHEN o.%1$I IS NOT NULL AND n.%1$I IS NULL THEN ''restore'' ELSE ''update'' END', soft);
        END IF;
    END IF;
    RETURN format($write${_PG_MANY_ROWS}$write$, side, key, action, changes, source);
END
$$"""


def _one_row(operation: str) -> str:
    return _pg_write(_PG_ONE_ROW[operation], "TG_TABLE_NAME", "who", "txid")


# SECURITY DEFINER: the function writes the log as its owner (the role that ran the migration), so the
# application's role needs, and with `schemakit roles` gets, no write access to the log at all. The settings
# hold for its own statements only: a bulk statement's join hashes in memory, and nothing is compiled.
_PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION {AUDIT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT SET jit = off SET work_mem = '64MB' SET enable_mergejoin = off AS $$
DECLARE
    key text := TG_ARGV[0];
    soft text := nullif(TG_ARGV[1], '');
    who text := nullif(current_setting('{ACTOR_SETTING}', true), '');
    txid bigint := txid_current();
    rows bigint;
    previous text;
    first_id bigint;
    last_id bigint;
    hashes text;
BEGIN
    -- The chain's head, locked until this transaction ends: batches are chained in commit order.
    SELECT link INTO previous FROM audit_chain WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the audit log has no chain head (audit_chain): run the migrations that create it';
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT count(*) INTO rows FROM (SELECT FROM old_rows LIMIT 2) AS r;
    ELSE
        SELECT count(*) INTO rows FROM (SELECT FROM new_rows LIMIT 2) AS r;
    END IF;
    IF rows = 0 THEN
        RETURN NULL;
    ELSIF rows > 1 THEN
        EXECUTE {STATEMENT_FUNCTION}(TG_RELID, TG_OP, key, soft) INTO first_id, last_id, hashes
            USING who, txid, TG_TABLE_NAME::text;
    ELSIF TG_OP = 'INSERT' THEN
        {_one_row("INSERT")} INTO first_id, last_id, hashes;
    ELSIF TG_OP = 'DELETE' THEN
        {_one_row("DELETE")} INTO first_id, last_id, hashes;
    ELSE
        {_one_row("UPDATE")} INTO first_id, last_id, hashes;
    END IF;
    IF first_id IS NOT NULL THEN
        previous := encode(sha256(convert_to(previous || hashes, 'UTF8')), 'hex');
        INSERT INTO audit_batches (first_entry, last_entry, link) VALUES (first_id, last_id, previous);
        UPDATE audit_chain SET link = previous, last_entry = last_id WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$"""


#: The chain's head row, created with its table (and by the migration operation that starts the log).
CHAIN_HEAD = (
    "INSERT INTO audit_chain (id, link, last_entry, pruned_link) "
    "SELECT 1, '', 0, '' WHERE NOT EXISTS (SELECT 1 FROM audit_chain WHERE id = 1)"
)


def audit_function_ddl(dialect: str) -> list[str]:
    """The statements that install the audit trigger function (PostgreSQL; none on SQLite)."""
    return [_PG_STATEMENT_FUNCTION, _PG_FUNCTION] if dialect == "postgresql" else []


def audit_trigger_names(table: str) -> tuple[str, str, str]:
    """The insert, update and delete triggers of ``table``: ``trg_<table>_audit_<event>``."""
    return (
        shorten_identifier(f"trg_{table}_audit_insert"),
        shorten_identifier(f"trg_{table}_audit_update"),
        shorten_identifier(f"trg_{table}_audit_delete"),
    )


def audit_trigger_ddl(dialect: str, table: Table) -> list[str]:
    """The statements that make ``table`` record its changes (its key must be one column)."""
    (key,) = [column.name for column in table.primary_key.columns]
    soft = "deleted_at" if "deleted_at" in table.columns else ""
    insert, update, delete = audit_trigger_names(table.name)
    target = quote_identifier(table.name)
    if dialect == "postgresql":
        arguments = f"{quote_literal(key)}, {quote_literal(soft)}"
        return [
            f"CREATE OR REPLACE TRIGGER {quote_identifier(insert)} AFTER INSERT ON {target} "
            "REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {AUDIT_FUNCTION}({arguments})",
            f"CREATE OR REPLACE TRIGGER {quote_identifier(update)} AFTER UPDATE ON {target} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {AUDIT_FUNCTION}({arguments})",
            f"CREATE OR REPLACE TRIGGER {quote_identifier(delete)} AFTER DELETE ON {target} "
            "REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {AUDIT_FUNCTION}({arguments})",
        ]
    columns = list(table.columns)
    return [
        _sqlite_trigger(insert, table.name, "INSERT", "insert", columns, key, new=True),
        _sqlite_update_trigger(update, table.name, columns, key, soft),
        _sqlite_trigger(delete, table.name, "DELETE", "delete", columns, key, new=False),
    ]


def drop_audit_trigger_ddl(dialect: str, table: str) -> list[str]:
    """The statements that stop ``table`` recording its changes."""
    names = audit_trigger_names(table)
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {quote_identifier(name)} ON {quote_identifier(table)}" for name in names]
    return [f"DROP TRIGGER IF EXISTS {quote_identifier(name)}" for name in names]


_NULLS = "[null,null]"


# SQLite: one entry a row; its batch is itself, chained from the head in the same trigger.
def _sqlite_entry(  # noqa: PLR0917 - the parts of one trigger
    name: str, table: str, event: str, action: str, key_row: str, changes: str
) -> str:
    target, table_name = quote_identifier(table), quote_literal(table)
    entry = (
        f"{table_name} || '|' || CAST({key_row} AS TEXT) || '|' || {action} || '|' || "
        f"coalesce(schemakit_actor(), '') || '|' || {changes} || '|'"
    )
    return (
        f"CREATE TRIGGER IF NOT EXISTS {quote_identifier(name)} AFTER {event} ON {target} FOR EACH ROW BEGIN "
        "INSERT INTO audit_logs (table_name, row_id, action, actor, changes, transaction_id, hash) "
        f"VALUES ({table_name}, CAST({key_row} AS TEXT), {action}, schemakit_actor(), {changes}, NULL, "
        f"schemakit_sha256({entry})); "
        "INSERT INTO audit_batches (first_entry, last_entry, link) VALUES (last_insert_rowid(), last_insert_rowid(), "
        "schemakit_sha256((SELECT link FROM audit_chain WHERE id = 1) || "
        "(SELECT hash FROM audit_logs WHERE id = last_insert_rowid()))); "
        "UPDATE audit_chain SET link = (SELECT link FROM audit_batches WHERE id = last_insert_rowid()), "
        "last_entry = (SELECT last_entry FROM audit_batches WHERE id = last_insert_rowid()) WHERE id = 1; "
        "END"
    )


def _value(side: str | None, column: Column[Any]) -> str:
    if side is None:
        return "NULL"
    # A JSON column holds JSON text: json() keeps it a value in the entry rather than a string.
    value = f"{side}.{quote_identifier(column.name)}"
    return f"json({value})" if isinstance(column.type, JSON) else value


def _changed(columns: list[Column[Any]], before: str | None, after: str | None, keep: str) -> str:
    """The entry's changes: ``{"column": [old, new]}`` for the pairs ``keep`` selects."""
    pairs = ", ".join(f"{quote_literal(c.name)}, json_array({_value(before, c)}, {_value(after, c)})" for c in columns)
    return f"(SELECT json_group_object(key, json(value)) FROM json_each(json_object({pairs})) WHERE {keep})"


def _sqlite_trigger(  # noqa: PLR0917 - the parts of one trigger
    name: str, table: str, event: str, action: str, columns: list[Column[Any]], key: str, *, new: bool
) -> str:
    side = "NEW" if new else "OLD"
    # An insert or a delete records every non-null column, as on PostgreSQL.
    changes = _changed(columns, None if new else side, side if new else None, f"value <> '{_NULLS}'")
    return _sqlite_entry(name, table, event, f"'{action}'", f"{side}.{quote_identifier(key)}", changes)


def _sqlite_update_trigger(name: str, table: str, columns: list[Column[Any]], key: str, soft: str) -> str:
    # updated_at is left out of an update's changes, as on PostgreSQL: the entry's own time says when.
    watched = [c for c in columns if c.name != "updated_at"]
    changes = _changed(watched, "OLD", "NEW", "json_extract(value, '$[0]') IS NOT json_extract(value, '$[1]')")
    action = "'update'"
    if soft:
        deleted = quote_identifier(soft)
        action = (
            f"CASE WHEN OLD.{deleted} IS NULL AND NEW.{deleted} IS NOT NULL THEN 'soft_delete' "
            f"WHEN OLD.{deleted} IS NOT NULL AND NEW.{deleted} IS NULL THEN 'restore' ELSE 'update' END"
        )
    # A row whose only change is updated_at is the updated_at trigger's own second UPDATE (SQLite cannot change
    # NEW): the first entry stands for the change. An UPDATE that changes nothing records nothing.
    when = " OR ".join(f"OLD.{quote_identifier(c.name)} IS NOT NEW.{quote_identifier(c.name)}" for c in watched)
    entry = _sqlite_entry(name, table, "UPDATE", action, f"NEW.{quote_identifier(key)}", changes)
    return entry.replace(" FOR EACH ROW BEGIN ", f" FOR EACH ROW WHEN {when} BEGIN ", 1)
