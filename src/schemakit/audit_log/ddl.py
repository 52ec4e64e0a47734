"""The SQL that records changes in the database: triggers, so bulk statements and raw SQL are recorded too.

PostgreSQL: one function, ``schemakit_audit()``, run by three statement-level triggers a table (after INSERT,
UPDATE and DELETE) that read the changed rows from transition tables: one set-based INSERT records a statement's
rows, however many. It locks the chain's head (``audit_chain``) until the transaction ends, hashes each entry,
and chains the statement's entries, as one batch, to the batch before.

SQLite: three row-level triggers a table, which call two functions schemakit registers on every SQLite
connection it makes (:mod:`schemakit.audit_log.capture`): ``schemakit_actor()`` and ``schemakit_sha256()``. A
connection without them (the ``sqlite3`` shell) cannot write an audited table: it fails rather than write
unrecorded.

The actor is the transaction's ``schemakit.actor`` setting (PostgreSQL) or the connection's current actor
(SQLite), written by schemakit's sessions and connections inside :func:`schemakit.audit.acting_as`; raw SQL
without one is recorded with none.
"""

from __future__ import annotations

from sqlalchemy import Table

from schemakit.naming import quote_identifier, shorten_identifier

__all__ = [
    "ACTOR_SETTING",
    "AUDIT_FUNCTION",
    "CHAIN_HEAD",
    "audit_function_ddl",
    "audit_trigger_ddl",
    "audit_trigger_names",
    "drop_audit_trigger_ddl",
]

#: The PostgreSQL trigger function that records changes.
AUDIT_FUNCTION = "schemakit_audit"
#: The PostgreSQL setting that holds the transaction's actor.
ACTOR_SETTING = "schemakit.actor"

# An entry's hash: the SHA-256 of its fields, joined; the verifier computes the same in the same database.
_PG_ENTRY = (
    "concat_ws('|', {table}, {row_id}, {action}, coalesce({actor}, ''), {changes}::text, "
    "coalesce({transaction}::text, ''))"
)
_PG_HASH = "encode(sha256(convert_to(" + _PG_ENTRY + ", 'UTF8')), 'hex')"


def _one_sided(rows: str, action: str, pair: str) -> str:
    """An insert's or a delete's entries: every non-null column, as ``[null, new]`` or ``[old, null]``."""
    entry_hash = _PG_HASH.format(
        table="TG_TABLE_NAME",
        row_id="row_id",
        action=f"'{action}'",
        actor="who",
        changes="coalesce(changes, '{}')",
        transaction="txid",
    )
    return f"""        WITH changed AS MATERIALIZED (
            SELECT c.j ->> key AS row_id,
                   (SELECT jsonb_object_agg(k, jsonb_build_array({pair})) FROM jsonb_each(c.j) AS e(k, v)
                     WHERE v <> 'null') AS changes
            FROM (SELECT to_jsonb(r) AS j FROM {rows} AS r) AS c
        ), written AS (
            INSERT INTO audit_logs (table_name, row_id, action, actor, changes, transaction_id, hash)
            SELECT TG_TABLE_NAME, row_id, '{action}', who, coalesce(changes, '{{}}'), txid, {entry_hash}
            FROM changed
            RETURNING id, hash
        )
        SELECT min(id), max(id), string_agg(hash, '' ORDER BY id) INTO first_id, last_id, hashes FROM written;"""


# SECURITY DEFINER: the function writes the log as its owner (the role that ran the migration), so the
# application's role needs, and with `schemakit roles` gets, no write access to the log at all.
_PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION {AUDIT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    key text := TG_ARGV[0];
    soft text := nullif(TG_ARGV[1], '');
    who text := nullif(current_setting('{ACTOR_SETTING}', true), '');
    txid bigint := txid_current();
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
    IF TG_OP = 'INSERT' THEN
{_one_sided("new_rows", "insert", "NULL, v")}
    ELSIF TG_OP = 'DELETE' THEN
{_one_sided("old_rows", "delete", "v, NULL")}
    ELSE
        -- Dynamic SQL, so old and new rows are joined on the key column itself (a hash join), not on an
        -- expression the planner cannot estimate.
        EXECUTE format($update$
            WITH pairs AS MATERIALIZED (
                SELECT to_jsonb(o) AS before_row, to_jsonb(n) AS after_row, to_jsonb(n) ->> %1$L AS row_id
                FROM old_rows AS o JOIN new_rows AS n ON o.%1$I = n.%1$I
            ), changed AS MATERIALIZED (
                SELECT row_id,
                       CASE WHEN $3 IS NULL THEN 'update'
                            WHEN before_row ->> $3 IS NULL AND after_row ->> $3 IS NOT NULL THEN 'soft_delete'
                            WHEN before_row ->> $3 IS NOT NULL AND after_row ->> $3 IS NULL THEN 'restore'
                            ELSE 'update' END AS action,
                       (SELECT jsonb_object_agg(e.k, jsonb_build_array(before_row -> e.k, e.v))
                          FROM jsonb_each(after_row) AS e(k, v)
                         WHERE (before_row -> e.k) IS DISTINCT FROM e.v) AS changes
                FROM pairs
            ), written AS (
                INSERT INTO audit_logs (table_name, row_id, action, actor, changes, transaction_id, hash)
                SELECT $4, row_id, action, $1, changes, $2,
                       {
    _PG_HASH.format(table="$4", row_id="row_id", action="action", actor="$1", changes="changes", transaction="$2")
}
                FROM changed WHERE changes IS NOT NULL
                RETURNING id, hash
            )
            SELECT min(id), max(id), string_agg(hash, '' ORDER BY id) FROM written
        $update$, key) INTO first_id, last_id, hashes USING who, txid, soft, TG_TABLE_NAME::text;
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
    return [_PG_FUNCTION] if dialect == "postgresql" else []


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
        arguments = f"'{key}', '{soft}'"
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
    columns = [column.name for column in table.columns]
    return [
        _sqlite_trigger(insert, target, "INSERT", "insert", columns, key, new=True, old=False),
        _sqlite_update_trigger(update, target, columns, key, soft),
        _sqlite_trigger(delete, target, "DELETE", "delete", columns, key, new=False, old=True),
    ]


def drop_audit_trigger_ddl(dialect: str, table: str) -> list[str]:
    """The statements that stop ``table`` recording its changes."""
    names = audit_trigger_names(table)
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {quote_identifier(name)} ON {quote_identifier(table)}" for name in names]
    return [f"DROP TRIGGER IF EXISTS {quote_identifier(name)}" for name in names]


# SQLite: one entry a row; its batch is itself, chained from the head in the same trigger.
def _sqlite_entry(  # noqa: PLR0917 - the parts of one trigger
    name: str, target: str, event: str, action: str, key_row: str, changes: str
) -> str:
    entry = (
        f"'{target.strip(chr(34))}' || '|' || CAST({key_row} AS TEXT) || '|' || {action} || '|' || "
        f"coalesce(schemakit_actor(), '') || '|' || {changes} || '|'"
    )
    return (
        f"CREATE TRIGGER IF NOT EXISTS {quote_identifier(name)} AFTER {event} ON {target} FOR EACH ROW BEGIN "
        "INSERT INTO audit_logs (table_name, row_id, action, actor, changes, transaction_id, hash) "
        f"VALUES ('{target.strip(chr(34))}', CAST({key_row} AS TEXT), {action}, schemakit_actor(), {changes}, NULL, "
        f"schemakit_sha256({entry})); "
        "INSERT INTO audit_batches (first_entry, last_entry, link) VALUES (last_insert_rowid(), last_insert_rowid(), "
        "schemakit_sha256((SELECT link FROM audit_chain WHERE id = 1) || "
        "(SELECT hash FROM audit_logs WHERE id = last_insert_rowid()))); "
        "UPDATE audit_chain SET link = (SELECT link FROM audit_batches WHERE id = last_insert_rowid()), "
        "last_entry = (SELECT last_entry FROM audit_batches WHERE id = last_insert_rowid()) WHERE id = 1; "
        "END"
    )


def _json_pairs(columns: list[str], old: bool, new: bool) -> str:
    values = []
    for column in columns:
        quoted = quote_identifier(column)
        before = f"OLD.{quoted}" if old else "NULL"
        after = f"NEW.{quoted}" if new else "NULL"
        values.append(f"'{column}', json_array({before}, {after})")
    return f"json_object({', '.join(values)})"


def _sqlite_trigger(  # noqa: PLR0917 - the parts of one trigger
    name: str, target: str, event: str, action: str, columns: list[str], key: str, *, new: bool, old: bool
) -> str:
    row = f"{'NEW' if new else 'OLD'}.{quote_identifier(key)}"
    return _sqlite_entry(name, target, event, f"'{action}'", row, _json_pairs(columns, old, new))


def _sqlite_update_trigger(name: str, target: str, columns: list[str], key: str, soft: str) -> str:
    pairs = ", ".join(f"'{c}', json_array(OLD.{quote_identifier(c)}, NEW.{quote_identifier(c)})" for c in columns)
    # Only the columns that changed: json_object of all, filtered through json_each.
    changes = (
        f"(SELECT json_group_object(key, json(value)) FROM json_each(json_object({pairs})) "
        "WHERE json_extract(value, '$[0]') IS NOT json_extract(value, '$[1]'))"
    )
    action = "'update'"
    if soft:
        deleted = quote_identifier(soft)
        action = (
            f"CASE WHEN OLD.{deleted} IS NULL AND NEW.{deleted} IS NOT NULL THEN 'soft_delete' "
            f"WHEN OLD.{deleted} IS NOT NULL AND NEW.{deleted} IS NULL THEN 'restore' ELSE 'update' END"
        )
    # A row whose only change is updated_at is the updated_at trigger's own second UPDATE (SQLite cannot change
    # NEW): the first entry stands for the change. An UPDATE that changes nothing records nothing.
    watched = [c for c in columns if c != "updated_at"]
    when = " OR ".join(f"OLD.{quote_identifier(c)} IS NOT NEW.{quote_identifier(c)}" for c in watched)
    entry = _sqlite_entry(name, target, "UPDATE", action, f"NEW.{quote_identifier(key)}", changes)
    return entry.replace(" FOR EACH ROW BEGIN ", f" FOR EACH ROW WHEN {when} BEGIN ", 1)
