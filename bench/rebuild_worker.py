"""Rebuild every projection from the whole log, timed, in its own process (so its peak memory is
its own); prints one JSON line. What ``gpureg projections rebuild`` does, through the same API
(:func:`projections.runner.rebuild`), without the progress bar.

    python -m bench.rebuild_worker DATABASE_URL [CHUNK_SIZE]
"""

from __future__ import annotations

import json
import sys
import time


def main(database_url: str, chunk_size: int = 500) -> dict[str, object]:
    from projections.catalog import default_projections
    from projections.db import open_engine
    from projections.runner import rebuild
    from registry.bootstrap import build_registry
    from registry.config import Settings

    settings = Settings(database_url=database_url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    from projections.feed import LogSource

    head = registry.head()
    events = LogSource(registry).count_after(0)
    per: dict[str, float] = {}
    try:
        t_all = time.perf_counter()
        for projection in default_projections():
            t0 = time.perf_counter()
            rebuild(registry, engine, projection, chunk_size=chunk_size)
            per[projection.name] = time.perf_counter() - t0
        total = time.perf_counter() - t_all
    finally:
        engine.dispose()
        registry.close()
    return {"head": head, "events": events, "seconds": total, "per_projection_seconds": per, "chunk_size": chunk_size}


if __name__ == "__main__":
    out = main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    print("RESULT " + json.dumps(out), flush=True)
