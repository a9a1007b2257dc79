"""Every projection following a finished store's log in small chunks, as ``gpureg serve``'s
projection child does during a load: all projections' chunks of a step in one transaction on a
kept connection, warm row caches, each event decoded once per step. Prints this process's CPU and
wall seconds and a digest of every read-model row, one JSON line:

    PYTHONPATH=<checkout> python -m bench.live_chunks STORE.db [CHUNK] [--tables]

The store is copied first (its read models are not touched). Run it from two checkouts on the same
store, alternately, to compare the child's CPU per event without the rest of a demo load (the demo
load's child applies steps of about 16 events: the 10 ms gathering pause plus a step's own time);
equal digests mean equal read models. ``--tables`` adds the CPU of each table's bulk statements.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any


def digest(readmodels: Path) -> str:
    """SHA-256 over every ``rm_`` table's rows (ordered by their first two columns) and counts."""
    db = sqlite3.connect(readmodels)
    h = hashlib.sha256()
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'rm_%' ORDER BY name")]
    for name in names:
        for row in db.execute(f"SELECT * FROM {name} ORDER BY 1, 2"):
            h.update(repr(row).encode())
        h.update(repr((name, db.execute(f"SELECT count(*) FROM {name}").fetchone())).encode())
    db.close()
    return h.hexdigest()


def main(store: Path, chunk: int, tables: bool) -> dict[str, Any]:
    from projections import row_cache
    from projections.catalog import default_projections
    from projections.db import ACTIVE, open_engine, writing_connection
    from projections.engine import apply_chunks, create_generation
    from projections.feed import LogSource
    from registry.bootstrap import build_registry
    from registry.config import Settings

    per_table: collections.Counter[str] = collections.Counter()
    if tables:
        run = row_cache._Statement.run

        def timed(self: Any, conn: Any, rows: Any) -> None:
            t0 = time.process_time()
            run(self, conn, rows)
            per_table[self.sql.split("(")[0].strip()[:60]] += time.process_time() - t0

        row_cache._Statement.run = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="gpureg-live-chunks-") as work:
        copy = Path(work) / "store.db"
        shutil.copy(store, copy)
        settings = Settings(database_url=f"sqlite:///{copy}")
        registry = build_registry(settings)
        engine = open_engine(settings)
        source = LogSource(registry)
        gens = [(p, create_generation(engine, p, ACTIVE, "bench")) for p in default_projections()]
        warm: dict[Any, Any] = {}
        conn = writing_connection(engine)
        steps = 0
        cpu, wall = time.process_time(), time.perf_counter()
        while True:
            notes = source.read(min(g.position for _, g in gens), chunk)
            if not notes:
                break
            decoded: dict[int, Any] = {}

            def event_of(n: Any, decoded: dict[int, Any] = decoded) -> Any:
                if n.id not in decoded:
                    decoded[n.id] = source.decode(n)
                return decoded[n.id]

            apply_chunks(engine, [(p, g, notes) for p, g in gens], event_of, "bench", warm, conn)
            steps += 1
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        conn.close()
        engine.dispose()
        registry.close()
        out: dict[str, Any] = {"chunk": chunk, "steps": steps, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                               "digest": digest(Path(work) / "store.readmodels.db")}
    if tables:
        out["tables_cpu_s"] = {k: round(v, 3) for k, v in per_table.most_common(12)}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("store", type=Path, help="a SQLite event store (copied; e.g. one a demo load left)")
    parser.add_argument("chunk", type=int, nargs="?", default=16, help="events per step (default 16)")
    parser.add_argument("--tables", action="store_true", help="CPU of each table's bulk statements")
    args = parser.parse_args()
    print(json.dumps(main(args.store, args.chunk, args.tables)), flush=True)
