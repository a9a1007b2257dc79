"""Where an append's time goes on PostgreSQL, and what group commit changes.

    python -m bench.pg_append [--url postgresql://postgres@127.0.0.1:5432/test] [--threads 1,8,16] [--seconds 3]

Appends one event (the size of a typical command's, ~600 bytes) per call from N threads of one
process, on the library's path (one transaction and one EXCLUSIVE table lock per append), on the
group-commit path writing each append in its own savepoint (k + 2 round trips under the lock for
a group of k; what the recorder falls back to after a conflict) and on the group-commit path
proper (two round trips under the lock for any group), and reports appends/s, the mean group
size and the time each path holds the table lock per append (measured from the leader's side:
connection checkout to COMMIT returned).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent

from registry.bootstrap import build_registry
from registry.config import Settings
from registry.infrastructure.postgres_recorder import RegistryPostgresRecorder

STATE = b'{"actor":"bench@ministry","request_id":"' + b"r" * 36 + b'","data":"' + b"x" * 480 + b'"}'


def _run(rec: RegistryPostgresRecorder, threads: int, seconds: float) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    counts = [0] * threads
    lat: list[float] = []
    lock = threading.Lock()
    measured = {"lock": 0.0}
    orig = rec.insert_events

    def work(i: int) -> None:
        mine: list[float] = []
        while time.perf_counter() < stop:
            t = time.perf_counter()
            agg = uuid.uuid4()
            orig([StoredEvent(originator_id=agg, originator_version=1, topic="bench:E", state=STATE)])
            mine.append(time.perf_counter() - t)
            counts[i] += 1
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    gc = rec.group_commit
    g0, a0, w0 = (gc.groups, gc.appends, gc.write_seconds) if gc else (0, 0, 0.0)
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.perf_counter() - t0
    total = sum(counts)
    lat.sort()
    out: dict[str, Any] = {
        "threads": threads, "appends_per_s": round(total / took, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2), "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
    }
    if gc:
        groups = gc.groups - g0
        out["mean_group"] = round((gc.appends - a0) / max(groups, 1), 2)
        out["lock_ms_per_group"] = round((gc.write_seconds - w0) / max(groups, 1) * 1000, 3)
        out["lock_ms_per_append"] = round((gc.write_seconds - w0) / max(total, 1) * 1000, 3)
    del measured
    return out


def round_trip_ms(url: str, n: int = 200) -> float:
    dsn = url.split("?", 1)[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        t = time.perf_counter()
        for _ in range(n):
            conn.execute("SELECT 1")
        return (time.perf_counter() - t) / n * 1000


def commit_flush_ms(url: str, n: int = 100) -> float:
    dsn = url.split("?", 1)[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS bench_flush (x int)")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_flush_p (x int)")
        t = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO bench_flush_p VALUES (%s)", (i,))
        took = (time.perf_counter() - t) / n * 1000
        conn.execute("DROP TABLE bench_flush_p")
        return took


def measure(url: str, threads: list[int], seconds: float) -> dict[str, Any]:
    import psycopg as pg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    base = url.split("?", 1)[0]
    with pg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    result: dict[str, Any] = {"round_trip_ms": round(round_trip_ms(base), 3),
                              "commit_with_wal_flush_ms": round(commit_flush_ms(base), 3), "runs": []}
    try:
        registry = build_registry(Settings(database_url=f"{base}?schema={schema}&pool_size=20"))
        rec = registry.recorder
        assert isinstance(rec, RegistryPostgresRecorder)
        gc = rec.group_commit
        for n in threads:
            rec.group_commit = None
            result["runs"].append({"path": "library (lock per append)", **_run(rec, n, seconds)})
            rec.group_commit = gc
            rec.two_round_trips = False
            result["runs"].append({"path": "group commit, append by append", **_run(rec, n, seconds)})
            rec.two_round_trips = True
            rec.one_round_trip = False
            result["runs"].append({"path": "group commit, two round trips", **_run(rec, n, seconds)})
            rec.one_round_trip = True
            result["runs"].append({"path": "group commit, one round trip", **_run(rec, n, seconds)})
        registry.close()
    finally:
        with pg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--threads", default="1,8,16")
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    print(json.dumps(measure(a.url, [int(x) for x in a.threads.split(",")], a.seconds), indent=2))


if __name__ == "__main__":
    main()
