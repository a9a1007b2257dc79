"""Planner statistics for read-model tables that grow fast (PostgreSQL).

A fresh generation's tables start empty and a following worker fills them quickly: the
serial-identity table of batch_inventory gains 144-2,048 rows per registration. PostgreSQL's
planner keeps the row counts of its last ANALYZE, and autovacuum analyzes a table at most once
per ``autovacuum_naptime`` (a minute by default). Until then the planner thinks the table is
tiny and answers a worker's keyed lookups (``serial IN (...)`` for a registration's serials) with
sequential scans of the whole table. Measured on this machine with a 74,000-row table: 50-75 ms
per lookup instead of about 1 ms, enough to stall a worker following 145 commands/s for 25-30 s.

:func:`analyze_stale` asks PostgreSQL which of the read-model tables changed by more rows than
their last ANALYZE counted (at least 500) and analyzes them; the runner calls it
every few seconds. A growing table is so analyzed each time it doubles: enough, since the planner
scales the row count of the last ANALYZE to the table's current size by itself, and what goes
stale is a plan made while the table was small (a prepared statement's generic plan is kept until
an ANALYZE invalidates it): after a few doublings every keyed lookup is an index scan. The
threshold was a tenth of the rows: a fast-growing table (the serial table gains ~3,000 rows/s
at 220 commands/s) was then analyzed every 5 s, 30,000 sampled rows each time, about 0.05-0.2 ms
of PostgreSQL's CPU per command in the scale-out bench. One query on the statistics views.

What these ANALYZEs are for is the row count and the plans' invalidation, not detailed column
statistics: they run with ``default_statistics_target`` 10 (:data:`TARGET`), which samples 3,000
rows instead of 30,000: 6-7 ms instead of 58-65 ms for a 50,000-row serial table, the same row
count (measured with psql on this machine). Autovacuum's own ANALYZE, where it runs, still uses
the server's target.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

TARGET = 10  # default_statistics_target of these ANALYZEs (a sample of 300 x TARGET rows)

STALE = text(
    "SELECT s.schemaname, s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = ANY(current_schemas(false)) AND s.relname LIKE 'rm\\_%' "
    # more rows changed than the last ANALYZE counted (reltuples; -1 if never analyzed)
    "AND s.n_mod_since_analyze > GREATEST(500, c.reltuples) "
    "ORDER BY s.relname"
)


def analyze_stale(engine: Engine) -> list[str]:
    """ANALYZE the read-model tables whose statistics are stale; returns their names. Does
    nothing on SQLite (its planner does not need row counts for a keyed lookup)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [(r[0], r[1]) for r in conn.execute(STALE)]
        quote = engine.dialect.identifier_preparer.quote
        if stale:
            conn.execute(text(f"SET LOCAL default_statistics_target = {TARGET}"))
        for schema, table in stale:
            conn.execute(text(f"ANALYZE {quote(schema)}.{quote(table)}"))
        conn.commit()
    return [table for _, table in stale]
