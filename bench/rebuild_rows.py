"""Rebuild chosen projections from the whole log, each timed (wall and this process's CPU), and count
the rows each one wrote per table; prints one JSON line. Only APIs every version of the code has, so
that two checkouts can be compared on copies of the same store (``PYTHONPATH=<checkout>``, run from
that checkout's directory):

    python -m bench.rebuild_rows DATABASE_URL batch_inventory,compliance [CHUNK_SIZE] [live]

``live``: instead of a rebuild (built in memory, written once), the live workers' path: each chunk
applied to the tables through the database in its own transaction (``apply_chunks`` with warm
caches), from empty to the log head. On SQLite the whole rebuild runs in this process, so its CPU
time is the rebuild's CPU time (on a shared machine wall time also measures the wait for a core).
"""

from __future__ import annotations

import argparse
import json
import time


def _live(registry: object, engine: object, projection: object, chunk_size: int) -> None:
    """The projection from empty to the log head chunk by chunk through the database, as a worker."""
    from projections.db import ACTIVE
    from projections.engine import apply_chunks, create_generation
    from projections.feed import LogSource

    source = LogSource(registry)  # type: ignore[arg-type]
    gen = create_generation(engine, projection, ACTIVE, "bench")  # type: ignore[arg-type]
    warm: dict[object, object] = {}
    while True:
        notes = source.read(gen.position, chunk_size)
        if not notes:
            return
        apply_chunks(engine, [(projection, gen, notes)], source.decode, "bench", warm)  # type: ignore[arg-type, list-item]


def main(database_url: str, names: list[str], chunk_size: int = 500, live: bool = False) -> dict[str, object]:
    from sqlalchemy import func, select

    from projections.catalog import default_projections
    from projections.db import open_engine, reading
    from projections.engine import active_generation
    from projections.feed import LogSource
    from projections.runner import rebuild
    from registry.bootstrap import build_registry
    from registry.config import Settings

    settings = Settings(database_url=database_url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    events = LogSource(registry).count_after(0)
    out: dict[str, object] = {"events": events, "chunk_size": chunk_size, "live": live}
    try:
        for projection in default_projections():
            if projection.name not in names:
                continue
            wall, cpu = time.perf_counter(), time.process_time()
            if live:
                _live(registry, engine, projection, chunk_size)
            else:
                rebuild(registry, engine, projection, chunk_size=chunk_size)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            with reading(engine) as conn:
                gen = active_generation(conn, projection.name)
                assert gen is not None
                rows = {
                    key: int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
                    for key, table in projection.tables(gen.generation).items()
                }
            out[projection.name] = {
                "version": projection.version, "seconds": wall, "cpu_seconds": cpu,
                "events_per_s": events / wall, "events_per_cpu_s": events / cpu, "rows": rows,
            }
    finally:
        engine.dispose()
        registry.close()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("database_url", help="the store (use a copy: the read models are rebuilt)")
    parser.add_argument("projections", help="comma-separated names, e.g. batch_inventory,compliance")
    parser.add_argument("chunk_size", type=int, nargs="?", default=500, help="events per chunk (default 500)")
    parser.add_argument("mode", nargs="?", choices=["live"], help="live: apply chunks through the database")
    args = parser.parse_args()
    result = main(args.database_url, args.projections.split(","), args.chunk_size, args.mode == "live")
    print("RESULT " + json.dumps(result), flush=True)
