"""What the projection worker sends per step while it follows the log, counted and pinned.

On PostgreSQL every statement the worker runs is psycopg protocol work in the worker and executor
work in a backend: with both on the same cores as the servers, the worker's statements were a
large part of a command's CPU (docs/performance.md, "The projection worker's statements").
``bench.worker_statements`` follows the bench workload with one step per four commands and counts
what each step sends; here its counts are pinned, so a change that adds statements or round trips
to the live path fails (one that removes some updates the pin).

On PostgreSQL a step is: BEGIN and every projection's position in one round trip, the reads of
rows not yet cached, every table's inserts, updates and deletes as a few multi-row statements each
(``projections/pg_rows.py``: chunks of a power of two rows) in one pipeline, COMMIT.
"""

from __future__ import annotations

from collections import Counter

from bench.worker_statements import count_worker
from projections.pg_rows import chunk_sizes

# The whole run: 11 steps (44 commands of 4 batch lives, 92 events) after a warm-up. A statement
# run with executemany counts once per row; on SQLite every statement is a call into SQLite (its
# round trip). On PostgreSQL, before this was pinned (2026-12-03): 1,002 statements and 367 round
# trips (a pipeline per table and kind written, a position update per projection, a health check
# and a pool ping per step); then 980 / 136 until a table's rows of one kind went as multi-row
# statements instead of one ``executemany`` row each (2026-12-03), then 342 / 136 (SQLite 980) until
# a batch's first event stopped looking up the rows keyed by the new batch (``RowCache.absent``), then
# 322 until the positions' conditional UPDATE went as one statement over a VALUES list (not 5 rows),
# then 278 / 111 (SQLite 960) until a registration stopped looking up its serials' rows (serials are
# registered once in the whole registry: none is stored yet; 2026-12-04), then 274 / 106 (SQLite 956)
# until the event stream read model (each event's rendered message, 2026-12-05) added its inserts:
# on PostgreSQL a multi-row INSERT or two per step in the same pipeline (no round trip), on SQLite
# one executemany row per event it keeps (59).
PINNED = {
    "sqlite": {"statements": 1015, "round_trips": 1015},
    "postgresql": {"statements": 289, "round_trips": 106},
}


def test_a_following_worker_sends_the_pinned_statements_and_round_trips_per_step(store_url: str) -> None:
    found = count_worker(store_url, every=4, batches=4)
    assert (found["steps"], found["events"]) == (11, 92)
    totals = {"statements": round(found["statements_per_step"] * found["steps"]),
              "round_trips": round(found["round_trips_per_step"] * found["steps"])}
    assert totals == PINNED[found["store"]]


def test_on_postgresql_a_step_writes_each_table_in_chunks_and_moves_every_position_with_one_statement(postgres_url: str) -> None:
    found = count_worker(postgres_url, every=4, batches=4, keep_texts=True)
    for texts in found["step_texts"]:
        # (an UPDATE may also be a move of rows the cache does not hold, run while handling)
        written = Counter(" ".join(t.split()[:3]) for t in texts if t.split()[0] in ("INSERT", "DELETE"))
        # a table and kind: one statement per chunk of rows (a batch's 144 serials: 64 + 64 + 16)
        assert written and max(written.values()) <= len(chunk_sizes(144)), written
        positions = [t for t in texts if t.startswith("UPDATE projection_positions")]
        assert len(positions) == 1  # every projection's position: one statement
