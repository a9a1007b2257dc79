"""``make fuzz``: every RPC fuzzed from its descriptor, long, with figures.

Starts a real server (SQLite file store, port 0) per worker process, gives it some reference
data, then sends each method ``--per-method`` generated requests (tests/fuzzing.py: empty,
random, boundary, undecodable) and checks every answer: never INTERNAL or UNKNOWN, no exception
text, a refused request writes nothing. Methods are split over ``--workers`` processes, each with
its own server and store, so the log-head check sees one writer.

Writes ``bench/results/fuzz.json`` and ``fuzz.md`` (requests and status codes per method, the
invariant breaks) and the figures block of docs/reliability.md. Exit code 1 on any break.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- fuzz figures: written by `make fuzz`; do not edit -->"
END = "<!-- /fuzz figures -->"


def _fuzz_one(fuzzer: Any, method: Any, per_method: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    from tests.fuzzing import request_bytes

    @settings(max_examples=per_method, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(request_bytes(method))
    def one(request: tuple[str, bytes]) -> None:
        fuzzer.check(method, *request)

    one()


def _run_methods(paths: list[str], per_method: int, seed: int) -> dict[str, Any]:
    """In a worker process: one server, the given methods, per_method requests each."""
    from registry.config import Settings
    from tests.e2e.conftest import RunningServer
    from tests.e2e.world import build_world
    from tests.fuzzing import Figures, Fuzzer, methods

    chosen = [m for m in methods() if m.path in paths]
    with tempfile.TemporaryDirectory(prefix="gpureg-fuzz-") as tmp:
        server = RunningServer(Settings(database_url=f"sqlite:///{tmp}/registry.db", listen="127.0.0.1:0",
                                        projection_process=False, subscription_poll_seconds=0.2)).start()
        figures = Figures()
        started = time.monotonic()
        try:
            build_world(server.stubs())
            fuzzer = Fuzzer(server.channel(), server.head, figures, stream_seconds=0.1, query_seconds=1.0)
            for method in chosen:
                _fuzz_one(fuzzer, method, per_method)
                print(f"  {method.path}: {figures.requests[method.path]:,} requests, "
                      f"{dict(figures.codes[method.path])}", flush=True)
        finally:
            figures.seconds = time.monotonic() - started
            server.stop()
        return figures.as_json()


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    out: dict[str, Any] = {"requests": 0, "seconds": 0.0, "methods": {}, "violations": [], "violation_count": 0}
    for part in parts:
        out["requests"] += part["requests"]
        out["seconds"] = max(out["seconds"], part["seconds"])
        out["methods"].update(part["methods"])
        out["violations"] += part["violations"]
        out["violation_count"] += part["violation_count"]
        kinds.update(part["kinds"])
    out["kinds"] = dict(kinds)
    return out


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    codes = sorted({c for m in results["methods"].values() for c in m["codes"]})
    lines = [
        f"Latest `make fuzz` run ({meta['finished'][:16].replace('T', ' ')} UTC): "
        f"{results['requests']:,} requests to {len(results['methods'])} methods "
        f"({meta['per_method']:,} asked per method) in {results['seconds']:.0f} s; "
        f"request kinds: {', '.join(f'{k} {v:,}' for k, v in sorted(results['kinds'].items()))}. "
        f"Invariant breaks: **{results['violation_count']}**.",
        "",
        "| method | requests | " + " | ".join(codes) + " |",
        "|---|--:|" + "--:|" * len(codes),
    ]
    for path, m in sorted(results["methods"].items()):
        lines.append(f"| `{path.lstrip('/')}` | {m['requests']:,} | "
                     + " | ".join(f"{m['codes'].get(c, 0):,}" if m["codes"].get(c) else "" for c in codes) + " |")
    if results["violations"]:
        lines += ["", "Breaks (first 100):", ""] + [f"- {v}" for v in results["violations"]]
    return "\n".join(lines) + "\n"


def write_doc_block(text: str, doc: Path = DOC) -> bool:
    if not doc.exists():
        return False
    content = doc.read_text()
    start, end = content.find(BEGIN), content.find(END)
    if start < 0 or end < 0:
        return False
    doc.write_text(content[:start] + BEGIN + "\n" + text + content[end:])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-method", type=int, default=10_000, help="requests per method (default 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="processes, each with its own server")
    parser.add_argument("--only", default="", help="only methods whose path contains this text")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where fuzz.json and fuzz.md go")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from tests.fuzzing import methods

    paths = [m.path for m in methods() if args.only in m.path]
    shares = [paths[i::args.workers] for i in range(args.workers)]
    print(f"fuzzing {len(paths)} methods x {args.per_method:,} requests in {args.workers} processes", flush=True)
    started = datetime.now(UTC)
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        parts = pool.starmap(_run_methods, [(share, args.per_method, args.seed) for share in shares if share])
    results = merge(parts)
    results["meta"] = {"started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
                       "per_method": args.per_method, "workers": args.workers, "only": args.only}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "fuzz.md").write_text("# Fuzz results\n\n" + table)
    if not args.only and args.out == RESULTS:
        write_doc_block(table)
    print(table)
    return 1 if results["violation_count"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
