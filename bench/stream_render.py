"""Rendering the log for SubscribeEvents, in process, side by side with the raw scan-and-decode.

    python -m bench.stream_render [--scale 0.05] [--rounds 3] [--baseline-renderer PATH]

Loads the demo at ``--scale`` into a fresh SQLite store (in process), then, alternating, for
``--rounds`` rounds: the raw scan and decode of the bench's baseline (every stored event read in
pages of 1,000 with ``sqlite3`` and its state ``json.loads``-ed), and the page read plus
:class:`registry.server.event_messages.EventRenderer` rendering into a response message (what a
catching-up subscription does before gRPC). ``--baseline-renderer`` names another copy of
``event_messages.py`` (for example the version before a change, from ``git show``) to render side
by side with the current one; ``compact serials`` is the current renderer asked for serial sets as
runs (``SubscribeEventsRequest.compact_serials``). Prints the best events/s of each (events per
second of this thread's CPU time, which other jobs on a shared machine disturb far less than wall
time) and the ratio to the raw scan.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from registry.api.v1 import events_pb2
from registry.bootstrap import build_registry
from registry.demo.load import load_in_process
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import planned_settings

PAGE = 1000


def raw_scan(path: Path) -> int:
    conn = sqlite3.connect(path)
    n, last = 0, 0
    while True:
        rows = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, PAGE)
        ).fetchall()
        if not rows:
            break
        for _, state in rows:
            json.loads(state)
        n += len(rows)
        last = rows[-1][0]
    conn.close()
    return n


def render_all(registry: Any, renderer: Any, compact_serials: bool = False) -> int:
    cursor, n = 0, 0
    while True:
        page = registry.read_log(cursor, PAGE, [])
        if not page:
            return n
        if hasattr(renderer, "render_into"):  # what the server does: into the response message
            kwargs = {"compact_serials": True} if compact_serials else {}
            renderer.render_into(events_pb2.EventBatch().events, page, **kwargs)
        else:
            renderer.messages(page)
        n += len(page)
        cursor = page[-1].id


def load_renderer(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("baseline_event_messages", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EventRenderer


def main() -> None:
    from registry.server.event_messages import EventRenderer

    parser = argparse.ArgumentParser(prog="python -m bench.stream_render")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-renderer", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.db"
        # the demo runs on its planned timeline (occurred_at up to years ahead)
        registry = build_registry(planned_settings(f"sqlite:///{path}"))
        try:
            load_in_process(registry, korea_deployment(scale=args.scale))
            current = EventRenderer(registry)
            contenders: dict[str, tuple[Any, bool]] = {"current renderer": (current, False)}
            if args.baseline_renderer:
                contenders["baseline renderer"] = (load_renderer(args.baseline_renderer)(registry), False)
            contenders["compact serials"] = (current, True)
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                t = time.thread_time()
                n = raw_scan(path)
                best["raw scan+decode"] = max(best.get("raw scan+decode", 0), n / (time.thread_time() - t))
                for name, (renderer, compact) in contenders.items():
                    t = time.thread_time()
                    n = render_all(registry, renderer, compact)
                    best[name] = max(best.get(name, 0), n / (time.thread_time() - t))
        finally:
            registry.close()
    raw = best["raw scan+decode"]
    print(f"{n} events (demo scale {args.scale}), best of {args.rounds}:")
    for name, rate in best.items():
        print(f"  {name:18s} {rate:10,.0f} events/s  {rate / raw:.3f} x raw scan")


if __name__ == "__main__":
    main()
