"""The PostgreSQL queries behind the checks of ``schemakit inspect``: each returns ``(object, detail)`` rows.

Static queries read the catalogs only, so they give the same answer on a fresh test database as in production.
Usage queries read the statistics views (``pg_stat_user_tables``, ``pg_stat_user_indexes``), which mean something
only where the database has served real traffic since its statistics were last reset.
"""

from __future__ import annotations

__all__ = ["STATIC", "TABLE_READS", "USAGE"]

# The schemas inspected: those on the search path (public, usually), never the system's.
_IN_SCHEMAS = "ANY (current_schemas(false))"
_TABLES = f"""pg_class AS t JOIN pg_namespace AS ns ON ns.oid = t.relnamespace
    WHERE ns.nspname = {_IN_SCHEMAS} AND t.relkind IN ('r', 'p')"""
_COLUMNS = f"""pg_attribute AS a JOIN pg_class AS t ON t.oid = a.attrelid
    JOIN pg_namespace AS ns ON ns.oid = t.relnamespace
    WHERE ns.nspname = {_IN_SCHEMAS} AND t.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"""
# An index's key columns as an array (0 for an expression), and the other facts two indexes must share to
# be the same index.
_INDEXES = f"""(SELECT x.indexrelid, x.indrelid, x.indisunique, x.indisprimary, x.indnatts, x.indnkeyatts,
           (string_to_array(x.indkey::text, ' ')::int2[])[1:x.indnkeyatts] AS keys,
           concat_ws(' ', x.indkey, x.indclass, x.indcollation, x.indoption, i.relam,
                     pg_get_expr(x.indexprs, x.indrelid), pg_get_expr(x.indpred, x.indrelid)) AS shape,
           x.indpred IS NULL AND x.indexprs IS NULL AS plain, i.relam
      FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
      JOIN pg_namespace AS ns ON ns.oid = i.relnamespace WHERE ns.nspname = {_IN_SCHEMAS})"""
_COLUMN_LIST = (
    "(SELECT string_agg(col.attname, ', ' ORDER BY k.n) FROM unnest({keys}) WITH ORDINALITY AS k(attnum, n) "
    "JOIN pg_attribute AS col ON col.attrelid = {table} AND col.attnum = k.attnum)"
)

STATIC: dict[str, str] = {
    "foreign-key-without-index": f"""
        SELECT c.conrelid::regclass || '.' || c.conname,
               format('no index starts with (%s)', {_COLUMN_LIST.format(keys="c.conkey", table="c.conrelid")})
          FROM pg_constraint AS c JOIN pg_namespace AS ns ON ns.oid = c.connamespace
         WHERE c.contype = 'f' AND ns.nspname = {_IN_SCHEMAS}
           AND NOT EXISTS (SELECT FROM {_INDEXES} AS x WHERE x.indrelid = c.conrelid AND x.plain
                             AND x.keys[1:cardinality(c.conkey)] @> c.conkey
                             AND x.keys[1:cardinality(c.conkey)] <@ c.conkey)""",
    "duplicate-index": f"""
        SELECT b.indexrelid::regclass::text, format('the same index as %s', a.indexrelid::regclass)
          FROM {_INDEXES} AS a JOIN {_INDEXES} AS b
            ON a.indrelid = b.indrelid AND a.shape = b.shape AND a.indexrelid < b.indexrelid
           AND a.indisunique = b.indisunique""",
    "redundant-index": f"""
        SELECT a.indexrelid::regclass::text,
               format('its columns (%s) begin %s, which serves the same lookups',
                      {_COLUMN_LIST.format(keys="a.keys", table="a.indrelid")}, b.indexrelid::regclass)
          FROM {_INDEXES} AS a JOIN {_INDEXES} AS b
            ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid AND a.relam = b.relam
         WHERE a.plain AND b.plain AND NOT a.indisunique AND NOT a.indisprimary
           AND cardinality(a.keys) < cardinality(b.keys) AND b.keys[1:cardinality(a.keys)] = a.keys""",
    "invalid-index": f"""
        SELECT x.indexrelid::regclass::text, 'INVALID: left by a failed CREATE INDEX CONCURRENTLY'
          FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
          JOIN pg_namespace AS ns ON ns.oid = i.relnamespace
         WHERE ns.nspname = {_IN_SCHEMAS} AND NOT x.indisvalid""",
    "table-without-primary-key": f"""
        SELECT t.oid::regclass::text, 'no primary key'
          FROM {_TABLES} AND NOT t.relispartition
           AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conrelid = t.oid AND c.contype = 'p')""",
    "nullable-unique-column": f"""
        SELECT x.indexrelid::regclass::text,
               format('unique over (%s), but %s may be NULL: rows that differ only by a NULL there are all let in',
                      {_COLUMN_LIST.format(keys="x.keys", table="x.indrelid")},
                      (SELECT string_agg(a.attname, ', ') FROM pg_attribute AS a
                        WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.keys) AND NOT a.attnotnull))
          FROM {_INDEXES} AS x JOIN pg_index AS p ON p.indexrelid = x.indexrelid
         WHERE x.indisunique AND x.plain AND cardinality(x.keys) > 1 AND NOT p.indnullsnotdistinct
           AND EXISTS (SELECT FROM pg_attribute AS a
                        WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.keys) AND NOT a.attnotnull)""",
    "sequence-near-overflow": f"""
        SELECT format('%I', s.sequencename),
               format('at %s of %s (%s%%)', s.last_value, s.max_value,
                      round(100.0 * s.last_value / s.max_value, 1))
          FROM pg_sequences AS s
         WHERE s.schemaname = {_IN_SCHEMAS} AND s.last_value > 0.75 * s.max_value""",
    "foreign-key-type-mismatch": f"""
        SELECT c.conrelid::regclass || '.' || c.conname,
               format('%s is %s but %s.%s is %s', a.attname, format_type(a.atttypid, a.atttypmod),
                      c.confrelid::regclass, r.attname, format_type(r.atttypid, r.atttypmod))
          FROM pg_constraint AS c JOIN pg_namespace AS ns ON ns.oid = c.connamespace
          CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(here, there)
          JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.here
          JOIN pg_attribute AS r ON r.attrelid = c.confrelid AND r.attnum = k.there
         WHERE c.contype = 'f' AND ns.nspname = {_IN_SCHEMAS}
           AND (a.atttypid, a.atttypmod) IS DISTINCT FROM (r.atttypid, r.atttypmod)""",
    "not-valid-constraint": f"""
        SELECT c.conrelid::regclass || '.' || c.conname, 'NOT VALID: existing rows were never checked'
          FROM pg_constraint AS c JOIN pg_namespace AS ns ON ns.oid = c.connamespace
         WHERE ns.nspname = {_IN_SCHEMAS} AND NOT c.convalidated""",
    "duplicate-foreign-key": f"""
        SELECT b.conrelid::regclass || '.' || b.conname, format('the same foreign key as %s', a.conname)
          FROM pg_constraint AS a JOIN pg_constraint AS b
            ON a.conrelid = b.conrelid AND a.confrelid = b.confrelid AND a.conkey = b.conkey
           AND a.confkey = b.confkey AND a.oid < b.oid
          JOIN pg_namespace AS ns ON ns.oid = a.connamespace
         WHERE a.contype = 'f' AND b.contype = 'f' AND ns.nspname = {_IN_SCHEMAS}""",
    "unlogged-table": f"""
        SELECT t.oid::regclass::text, 'UNLOGGED: emptied after a crash, and not on replicas'
          FROM {_TABLES} AND t.relpersistence = 'u'""",
    "json-column": f"""
        SELECT t.oid::regclass || '.' || a.attname, 'json: no equality, no GIN index; jsonb has both'
          FROM {_COLUMNS} AND a.atttypid = 'json'::regtype""",
    "timestamp-without-time-zone": f"""
        SELECT t.oid::regclass || '.' || a.attname, 'timestamp without time zone: the zone is lost on the way in'
          FROM {_COLUMNS} AND a.atttypid = 'timestamp'::regtype""",
    "char-column": f"""
        SELECT t.oid::regclass || '.' || a.attname,
               format('%s pads with spaces; use varchar or text', format_type(a.atttypid, a.atttypmod))
          FROM {_COLUMNS} AND a.atttypid = 'bpchar'::regtype""",
    "btree-index-on-array": f"""
        SELECT x.indexrelid::regclass::text, format('a B-tree over the array column %s: use GIN', a.attname)
          FROM {_INDEXES} AS x JOIN pg_am AS am ON am.oid = x.relam
          JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.keys)
          JOIN pg_type AS ty ON ty.oid = a.atttypid
         WHERE am.amname = 'btree' AND ty.typcategory = 'A'""",
    "name-needs-quoting": f"""
        SELECT name, 'a name that must be quoted in every query'
          FROM (SELECT t.oid::regclass::text AS name, t.relname AS bare FROM {_TABLES}
                UNION ALL SELECT t.oid::regclass || '.' || a.attname, a.attname FROM {_COLUMNS}
                UNION ALL SELECT x.indexrelid::regclass::text, i.relname FROM {_INDEXES} AS x
                          JOIN pg_class AS i ON i.oid = x.indexrelid
                UNION ALL SELECT c.conrelid::regclass || '.' || c.conname, c.conname
                            FROM pg_constraint AS c JOIN pg_namespace AS ns ON ns.oid = c.connamespace
                           WHERE ns.nspname = {_IN_SCHEMAS}) AS names
         WHERE quote_ident(bare) <> bare""",
    "disabled-trigger": f"""
        SELECT g.tgrelid::regclass || '.' || g.tgname, 'disabled: it does nothing until enabled again'
          FROM pg_trigger AS g JOIN pg_class AS t ON t.oid = g.tgrelid
          JOIN pg_namespace AS ns ON ns.oid = t.relnamespace
         WHERE ns.nspname = {_IN_SCHEMAS} AND NOT g.tgisinternal AND g.tgenabled = 'D'""",
    "security-definer-without-search-path": f"""
        SELECT p.oid::regprocedure::text, 'runs as its owner with the caller''s search_path'
          FROM pg_proc AS p JOIN pg_namespace AS ns ON ns.oid = p.pronamespace
         WHERE ns.nspname = {_IN_SCHEMAS} AND p.prosecdef
           AND NOT EXISTS (SELECT FROM unnest(p.proconfig) AS setting WHERE setting LIKE 'search\\_path=%')""",
}

# How many reads of the inspected tables the statistics hold.
TABLE_READS = f"""
    SELECT coalesce(sum(coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0)), 0)
      FROM pg_stat_user_tables AS s WHERE s.schemaname = {_IN_SCHEMAS}"""

USAGE: dict[str, str] = {
    "unused-index": f"""
        SELECT s.indexrelid::regclass::text,
               format('never used since the statistics were reset; %s', pg_size_pretty(pg_relation_size(s.indexrelid)))
          FROM pg_stat_user_indexes AS s JOIN pg_index AS x ON x.indexrelid = s.indexrelid
          JOIN pg_stat_user_tables AS t ON t.relid = s.relid
         WHERE s.schemaname = {_IN_SCHEMAS} AND s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
           AND coalesce(t.seq_scan, 0) + coalesce(t.idx_scan, 0) > 0""",
    "sequential-scan-heavy-table": f"""
        SELECT s.relid::regclass::text,
               format('%s sequential scans reading %s rows, %s index scans; %s live rows', s.seq_scan,
                      s.seq_tup_read, coalesce(s.idx_scan, 0), s.n_live_tup)
          FROM pg_stat_user_tables AS s
         WHERE s.schemaname = {_IN_SCHEMAS} AND s.n_live_tup >= 10000
           AND s.seq_scan > coalesce(s.idx_scan, 0) AND s.seq_tup_read >= 10 * s.n_live_tup""",
    "table-bloat": f"""
        SELECT s.relid::regclass::text,
               format('about %s%% dead rows (%s dead, %s live); last vacuum %s',
                      round(100.0 * s.n_dead_tup / (s.n_live_tup + s.n_dead_tup)), s.n_dead_tup, s.n_live_tup,
                      coalesce(greatest(s.last_vacuum, s.last_autovacuum)::text, 'never'))
          FROM pg_stat_user_tables AS s
         WHERE s.schemaname = {_IN_SCHEMAS} AND s.n_dead_tup >= 1000
           AND s.n_dead_tup > 0.2 * (s.n_live_tup + s.n_dead_tup)""",
}
