"""Planner statistics for read-model tables that grow fast (PostgreSQL).

A fresh generation's tables start empty and a following worker fills them quickly: the
serial-identity table of batch_inventory gains 144-2,048 rows per registration. PostgreSQL's
planner keeps the row counts of its last ANALYZE, and autovacuum analyzes a table at most once
per ``autovacuum_naptime`` (a minute by default). Until then the planner thinks the table is
tiny and answers a worker's keyed lookups (``serial IN (...)`` for a registration's serials) with
sequential scans of the whole table. Measured on this machine with a 74,000-row table: 50-75 ms
per lookup instead of about 1 ms, enough to stall a worker following 145 commands/s for 25-30 s.

:func:`analyze_stale` asks PostgreSQL which of the read-model tables changed by more than a
tenth since they were last analyzed (at least 500 rows) and analyzes them; the runner calls it
every few seconds. It is cheap: one query on the statistics views, and ANALYZE samples at most
30,000 rows of a table.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

STALE = text(
    "SELECT schemaname, relname FROM pg_stat_user_tables "
    "WHERE schemaname = ANY(current_schemas(false)) AND relname LIKE 'rm\\_%' "
    "AND n_mod_since_analyze > GREATEST(500, 0.1 * n_live_tup) "
    "ORDER BY relname"
)


def analyze_stale(engine: Engine) -> list[str]:
    """ANALYZE the read-model tables whose statistics are stale; returns their names. Does
    nothing on SQLite (its planner does not need row counts for a keyed lookup)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [(r[0], r[1]) for r in conn.execute(STALE)]
        quote = engine.dialect.identifier_preparer.quote
        for schema, table in stale:
            conn.execute(text(f"ANALYZE {quote(schema)}.{quote(table)}"))
        conn.commit()
    return [table for _, table in stale]
