"""Journal measurements (docs/journal.md): what the Merkle tree costs each append, and how fast
`gpureg journal verify` checks a whole store.

* **append overhead**: the same demo command sequence run in process against two fresh stores of
  the same kind, one keeping the journal (the registry as shipped) and one whose recorder skips the
  journal append (the registry before the journal); the sequence is cut in rounds run alternately
  (A B, then B A, ...) so that load changes on the machine hit both alike. Target: with the tree
  at least 0.95 x the commands/s without it.
* **verify throughput**: `Journal.verify_store` over a whole store (every leaf recomputed from its
  event's stored bytes, every root checked against the signed checkpoint). Target >= 100,000
  events/s over the full demo store.

Run alone with ``python -m bench.journal [--quick] [--no-postgres]``; ``python -m bench`` runs it too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from registry.bootstrap import build_registry
from registry.config import Settings
from registry.demo.load import load_in_process, run_step
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import planned_settings
from registry.journal.note import Signer
from registry.journal.service import Journal
from registry.journal.tables import JournalTables


class _NoTree(JournalTables):
    """The journal tables with the append skipped: the store as it was before the journal."""

    def append(self, cur: Any, ids: Any, stored_events: Any) -> None:
        return None


def _without_tree(registry: Any) -> None:
    old: JournalTables = registry.recorder.journal
    tree = _NoTree.__new__(_NoTree)
    tree.__dict__.update(old.__dict__)
    registry.recorder.journal = tree


def measure_append(urls: tuple[str, str], scale: float, rounds: int) -> dict[str, Any]:
    """Commands/s with and without the tree, the same commands alternately on two stores."""
    steps = list(korea_deployment(scale, seed=7).steps())
    with_tree = build_registry(planned_settings(urls[0]))
    without = build_registry(planned_settings(urls[1]))
    _without_tree(without)
    seconds = {"tree": 0.0, "none": 0.0}
    per_round: dict[str, list[float]] = {"tree": [], "none": []}
    size = max(1, len(steps) // rounds)
    try:
        for r, lo in enumerate(range(0, len(steps), size)):
            chunk = steps[lo: lo + size]
            order = [("tree", with_tree), ("none", without)]
            if r % 2:
                order.reverse()
            for name, registry in order:
                started = time.perf_counter()
                for step in chunk:
                    run_step(registry, step)
                took = time.perf_counter() - started
                seconds[name] += took
                per_round[name].append(len(chunk) / took)
        leaves = Journal(with_tree.recorder).sync()
    finally:
        with_tree.close()
        without.close()
    rate = {k: len(steps) / v for k, v in seconds.items()}
    return {"commands": len(steps), "rounds": len(per_round["tree"]), "leaves": leaves,
            "with_tree_per_s": rate["tree"], "without_tree_per_s": rate["none"],
            "ratio": rate["tree"] / rate["none"],
            "median_round_ratio": statistics.median(t / n for t, n in zip(per_round["tree"], per_round["none"],
                                                                          strict=True))}


def measure_verify(url: str, repeats: int = 3) -> dict[str, Any]:
    """Sign a checkpoint of the store with a throwaway key, then verify the whole store."""
    registry = build_registry(Settings(database_url=url))
    try:
        signer = Signer.generate("bench.gpureg/journal")
        journal = Journal(registry.recorder, signer=signer)
        journal.ensure()
        journal.checkpoint()
        best: Any = None
        for _ in range(repeats):
            report = journal.verify_store(keys=[signer.verifier], allow_unsigned_tail=True)
            if not report.ok:
                return {"error": str(report.problem)}
            if best is None or report.seconds < best.seconds:
                best = report
        assert best is not None
        return {"events": best.events, "seconds": best.seconds, "events_per_s": best.events / best.seconds,
                "repeats": repeats}
    finally:
        registry.close()


def postgres_urls(base: str) -> tuple[list[str], Any]:
    import psycopg

    schemas = [f"bench_j_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(base, autocommit=True) as conn:
        for s in schemas:
            conn.execute(f'CREATE SCHEMA "{s}"')

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            for s in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')

    sep = "&" if "?" in base else "?"
    return [f"{base}{sep}schema={s}" for s in schemas], drop


def run(workdir: Path, *, quick: bool, postgres_url: str | None, verify: bool = True,
        say: Any = print) -> dict[str, Any]:
    """The append overhead on SQLite (a file, as served; and in memory: no fsync, so the CPU cost
    alone, an upper bound of the overhead) and PostgreSQL if given; with ``verify``, a small demo is
    loaded and verified too (``python -m bench`` verifies its full demo store instead)."""
    scale = 0.01 if quick else 0.05
    rounds = 6 if quick else 10
    out: dict[str, Any] = {}
    for kind, urls in (("sqlite", (f"sqlite:///{workdir}/journal-a.db", f"sqlite:///{workdir}/journal-b.db")),
                       ("memory", ("sqlite:///:memory:", "sqlite:///:memory:"))):
        say(f"journal: append overhead, {kind} (same commands, with and without the tree)")
        a = out[f"append_{kind}"] = measure_append(urls, scale, rounds)
        say(f"  {a['with_tree_per_s']:,.0f} vs {a['without_tree_per_s']:,.0f} commands/s: ratio {a['ratio']:.3f}")
    if postgres_url:
        urls, drop = postgres_urls(postgres_url)
        try:
            say("journal: append overhead, PostgreSQL")
            out["append_postgres"] = measure_append((urls[0], urls[1]), scale, 6 if quick else 10)
            say(f"  ratio {out['append_postgres']['ratio']:.3f}")
        finally:
            drop()
    if verify:
        demo_store = f"sqlite:///{workdir}/journal-demo.db"
        say(f"journal: loading a demo (scale {scale}) to verify")
        registry = build_registry(planned_settings(demo_store))
        try:
            load_in_process(registry, korea_deployment(scale))
        finally:
            registry.close()
        say("journal: verify the whole store")
        v = out["verify"] = measure_verify(demo_store)
        v["scale"] = scale
        say(f"  {v.get('events', 0):,} events in {v.get('seconds', 0):.3f} s: {v.get('events_per_s', 0):,.0f} events/s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    from bench.run import POSTGRES_URL, postgres_unavailable

    pg = None if args.no_postgres or postgres_unavailable() else POSTGRES_URL
    with tempfile.TemporaryDirectory(prefix="gpureg-bench-journal-") as tmp:
        out = run(Path(tmp), quick=args.quick, postgres_url=pg)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
