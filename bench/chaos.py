"""``make chaos``: the fault suite, bounded in time, on loopback only (tests/chaos.py).

(a) kill -9 of ``gpureg serve`` and its projection worker at random moments under load from
several clients, ``--rounds`` rounds, on SQLite and on PostgreSQL; (b) a throwaway PostgreSQL
cluster stopped for ``--outage`` seconds mid-load and started again, clients calling with a
``--outage-deadline`` of 2 s; (c) the SQLite store on a ``--disk-mb`` MB tmpfs the suite mounts
(root or CAP_SYS_ADMIN), filled up mid-load and freed again; (d) ``--writers`` racing writers x
``--per-writer`` commands on hot batches, on SQLite and PostgreSQL.

Writes ``bench/results/chaos.json`` and ``chaos.md`` and the figures block of docs/reliability.md;
exit code 1 when an acknowledged command was lost or applied twice, a replay wrote, a read model
differed from a rebuild, a client saw INTERNAL or UNKNOWN (or DEADLINE_EXCEEDED during the
PostgreSQL outage or the full disk), the server had to be restarted, or an invariant broke.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- chaos figures: written by `make chaos`; do not edit -->"
END = "<!-- /chaos figures -->"
POSTGRES_URL = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_schema_url() -> str:
    import psycopg

    schema = f"chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"


def _drop(url: str) -> None:
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.chaos import disk_full, kill_rounds, mount_refused, postgres_outage, racing_writers

    meta = {"started": datetime.now(UTC).isoformat(), "args": vars(args) | {"out": str(args.out)}}
    out: dict[str, Any] = {"meta": meta, "kill": {}, "outage": None, "disk_full": None, "race": {}}
    stores = ["sqlite"] + (["postgres"] if not args.no_postgres else [])
    for store in stores:
        with tempfile.TemporaryDirectory(prefix="gpureg-chaos-") as tmp:
            url = f"sqlite:///{tmp}/registry.db" if store == "sqlite" else _postgres_schema_url()
            try:
                print(f"(a) kill -9 rounds on {store}", flush=True)
                report = kill_rounds(url, Path(tmp), rounds=args.rounds, clients=args.clients, seed=args.seed,
                                     say=lambda line: print("   ", line, flush=True))
                out["kill"][store] = asdict(report)
                print(f"(d) racing writers on {store}", flush=True)
                race_url = url if store == "postgres" else f"sqlite:///{tmp}/race.db"
                out["race"][store] = asdict(racing_writers(race_url, args.writers, args.per_writer, seed=args.seed))
            finally:
                if store == "postgres":
                    _drop(url)
    if not args.no_outage:
        with tempfile.TemporaryDirectory(prefix="gpureg-chaos-pg-") as tmp:
            Path(tmp).chmod(0o777)
            print(f"(b) PostgreSQL stopped for {args.outage:g} s mid-load", flush=True)
            out["outage"] = asdict(postgres_outage(Path(tmp), outage=args.outage, clients=args.clients,
                                                   seed=args.seed, deadline=args.outage_deadline))
    if not args.no_disk_full:
        with tempfile.TemporaryDirectory(prefix="gpureg-chaos-disk-") as tmp:
            refused = mount_refused(Path(tmp) / "probe")
            if refused:
                print(f"(c) skipped: {refused}", flush=True)
                out["disk_full"] = {"skipped": refused}
            else:
                print(f"(c) the SQLite store's {args.disk_mb} MB disk filled mid-load", flush=True)
                out["disk_full"] = asdict(disk_full(Path(tmp), size_mb=args.disk_mb, clients=args.clients,
                                                    seed=args.seed, full_answers=args.full_answers))
    out["meta"]["finished"] = datetime.now(UTC).isoformat()
    return out


FORBIDDEN = {"INTERNAL", "UNKNOWN"}
# while the database is down or the disk full: UNAVAILABLE at once, never a call held past its deadline
FORBIDDEN_IN_FAULT = FORBIDDEN | {"DEADLINE_EXCEEDED"}


def failures(results: dict[str, Any]) -> list[str]:
    found = []
    for store, k in results["kill"].items():
        if k["lost"] or k["duplicated"] or k["replay_failures"] or not k["read_models_equal_rebuild"]:
            found.append(f"kill rounds on {store}: {k}")
        if FORBIDDEN & set(k["codes"]):
            found.append(f"kill rounds on {store}: clients saw {k['codes']}")
    for store, r in results["race"].items():
        if r["lost_updates"] or r["invariant_breaks"] or r["acked"] != r["commands"]:
            found.append(f"racing writers on {store}: {r}")
    o = results["outage"]
    if o is not None and (o["lost"] or o["duplicated"] or not o["read_models_equal_rebuild"]
                          or FORBIDDEN & set(o["codes"]) or o["server_restarts"] or not o["acked_after"]
                          or FORBIDDEN_IN_FAULT & (set(o["codes_during"]) | set(o["codes_after"]))):
        found.append(f"PostgreSQL outage: {o}")
    d = results.get("disk_full")
    if d is not None and "skipped" not in d and (
            d["lost"] or d["duplicated"] or not d["read_models_equal_rebuild"] or d["server_restarts"]
            or FORBIDDEN_IN_FAULT & set(d["codes"]) or not d["disk_full_answers"] or not d["acked_after"]
            or any("disk is full" not in m for m in d["messages_full"] if m.startswith("UNAVAILABLE"))):
        found.append(f"disk full: {d}")
    return found


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    a = meta["args"]
    lines = [f"Latest `make chaos` run ({meta['finished'][:16].replace('T', ' ')} UTC; {a['rounds']} kill rounds, "
             f"{a['clients']} clients, {a['writers']} writers x {a['per_writer']} commands, seed {a['seed']}).", "",
             "| fault | store | injected | acknowledged commands | lost | applied twice | replays (wrote nothing) "
             "| read models = rebuild | status codes clients saw |",
             "|---|---|--:|--:|--:|--:|--:|---|---|"]
    for store, k in results["kill"].items():
        lines.append(f"| (a) kill -9 under load | {store} | {k['server_kills']} server + {k['worker_kills']} worker "
                     f"| {k['acked']:,} | {k['lost']} | {k['duplicated']} | {k['replays']} "
                     f"({k['replay_failures']} failed) | {'yes' if k['read_models_equal_rebuild'] else 'NO'} | "
                     + ", ".join(f"{c} {n:,}" for c, n in sorted(k["codes"].items())) + " |")
    o = results["outage"]
    if o is not None:
        lines.append(f"| (b) PostgreSQL stopped {o['outage_seconds']:.1f} s | postgres (own cluster) | 1 | "
                     f"{o['acked_before'] + o['acked_during'] + o['acked_after']:,} (during the outage: "
                     f"{o['acked_during']}; after: {o['acked_after']}) | {o['lost']} | {o['duplicated']} | | "
                     f"{'yes' if o['read_models_equal_rebuild'] else 'NO'} | during: "
                     + ", ".join(f"{c} {n:,}" for c, n in sorted(o["codes_during"].items()))
                     + "; after: " + ", ".join(f"{c} {n:,}" for c, n in sorted(o["codes_after"].items()))
                     + f" (deadline {o['client_deadline']:g} s); server restarts: {o['server_restarts']} |")
    d = results.get("disk_full")
    if d is not None and "skipped" in d:
        lines.append(f"| (c) the store's disk full | sqlite | skipped: {d['skipped']} | | | | | | |")
    elif d is not None:
        lines.append(f"| (c) the store's disk full ({d['filesystem_mb']} MB tmpfs) for {d['seconds_full']:.1f} s | "
                     f"sqlite | 1 | {d['acked_before'] + d['acked_full'] + d['acked_after']:,} (while full: "
                     f"{d['acked_full']}; after: {d['acked_after']}, the first {d['seconds_to_serve_again']:.2f} s "
                     f"after the space was freed) | {d['lost']} | {d['duplicated']} | | "
                     f"{'yes' if d['read_models_equal_rebuild'] else 'NO'} | while full: "
                     + ", ".join(f"{c} {n:,}" for c, n in sorted(d["codes_full"].items()))
                     + f" ({d['disk_full_answers']} with \"disk is full\"); server restarts: {d['server_restarts']} |")
    for store, r in results["race"].items():
        lines.append(f"| (d) {r['writers']} racing writers on {r['batches']} hot batches | {store} | "
                     f"{r['commands']:,} commands | {r['acked']:,} | {r['lost_updates']} (lost updates) | | | "
                     f"invariants: {'hold' if not r['invariant_breaks'] else r['invariant_breaks']} | "
                     f"{r['seconds']:.0f} s |")
    lost = sum(k["lost"] for k in results["kill"].values()) + (o["lost"] if o else 0) \
        + (d["lost"] if d and "skipped" not in d else 0)
    lines += ["", f"Acknowledged commands lost: **{lost}**. Failures: **{len(failures(results))}**."]
    return "\n".join(lines) + "\n"


def write_doc_block(text: str, doc: Path = DOC) -> bool:
    content = doc.read_text() if doc.exists() else ""
    start, end = content.find(BEGIN), content.find(END)
    if start < 0 or end < 0:
        return False
    doc.write_text(content[:start] + BEGIN + "\n" + text + content[end:])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="kill -9 rounds per store")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--per-writer", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (no PostgreSQL at 5432)")
    parser.add_argument("--outage-deadline", type=float, default=2.0, help="the clients' deadline during (b)")
    parser.add_argument("--no-outage", action="store_true", help="skip (b), the throwaway cluster")
    parser.add_argument("--disk-mb", type=int, default=8, help="size of the tmpfs (c) fills")
    parser.add_argument("--full-answers", type=int, default=100, help="disk-full refusals before space is freed")
    parser.add_argument("--no-disk-full", action="store_true", help="skip (c), the full disk (needs root)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    results = run(args)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chaos.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "chaos.md").write_text("# Chaos results\n\n" + table)
    if args.out == RESULTS:
        write_doc_block(table)
    print(table)
    broken = failures(results)
    for line in broken:
        print("FAILED:", line)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
