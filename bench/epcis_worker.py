"""EPCIS 2.0 export and capture throughput on the demo, in its own process; prints one JSON line.

1. Export: every batch event of the store's log as one EPCISDocument (registry.epcis.export,
   written to a file as ``gpureg epcis export --after 0`` does), timed; events/s. Baseline, same
   run: a raw scan-and-decode of the same log (bench.baselines.raw_scan_decode) on SQLite.
2. Capture: that document captured into a fresh SQLite store holding the same reference data
   (the scenario's reference steps; its one mid-history correction applied at its business time),
   in documents of at most 5,000 events, timed (only the capture calls); events/s. Every event must
   be written, or the run fails.

    python -m bench.epcis_worker DATABASE_URL SCALE WORKDIR     # a store loaded with the demo at SCALE
    python -m bench.epcis_worker - SCALE WORKDIR                # load the demo in process first
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHUNK = 5000
BATCH_METHODS = frozenset({
    "place_order", "correct_order", "request_clearance", "grant_clearance", "deny_clearance", "revoke_clearance",
    "register_serials", "ship", "receive", "install", "assign", "transfer", "return_for_rma", "report_lost",
    "decommission", "split_batch",
})


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def main(database_url: str, scale: float, workdir: Path) -> dict[str, Any]:
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.demo.load import load_in_process, run_step
    from registry.demo.scenario import korea_deployment
    from registry.demo.server_process import planned_settings
    from registry.epcis.capture import Capture
    from registry.epcis.export import document, write_document
    from registry.epcis.sources import log_events

    scenario = korea_deployment(scale=scale)
    if database_url == "-":
        database_url = f"sqlite:///{workdir}/epcis-source.db"
        source = build_registry(planned_settings(database_url))
        load_in_process(source, scenario)
    else:
        source = build_registry(Settings(database_url=database_url))
    out_file = workdir / "export.jsonld"
    try:
        t0 = time.perf_counter()
        with out_file.open("w", encoding="utf-8") as f:
            exported = write_document((e for _, e in log_events(source)), datetime.now(UTC), f)
        export_s = time.perf_counter() - t0
    finally:
        source.close()
    size = out_file.stat().st_size
    events = json.loads(out_file.read_text())["epcisBody"]["eventList"]
    units = sum(len(e.get("epcList", ())) + sum(q.get("quantity", 0) for q in e.get("quantityList", ()))
                for e in events)

    # the demo's plan runs to 2030: the capture allows its planned timeline, as the demo load does
    target = build_registry(planned_settings(f"sqlite:///{workdir}/epcis-target-{time.time_ns()}.db"))
    try:
        for step in scenario.reference:
            run_step(target, step)
        corrections = [st for st in scenario.batches if st.method not in BATCH_METHODS]
        pending = sorted(events, key=lambda e: e["eventTime"])
        capture = Capture(target)
        capture_s = 0.0
        written = 0
        for step in [*corrections, None]:
            cut = _utc(step.payload["occurred_at"]) if step is not None else None
            now = [e for e in pending if cut is None or _utc(e["eventTime"]) < cut]
            pending = [e for e in pending if cut is not None and _utc(e["eventTime"]) >= cut]
            for lo in range(0, len(now), CHUNK):
                t1 = time.perf_counter()
                result = capture.capture("bench", document(now[lo: lo + CHUNK], datetime.now(UTC)))
                capture_s += time.perf_counter() - t1
                if not result.accepted:
                    raise RuntimeError(f"capture refused: {result.errors[:3]}")
                written += result.counts().get("written", 0)
            if step is not None:
                run_step(target, step)
    finally:
        target.close()
    return {
        "scale": scale, "events": exported, "bytes": size, "units": units,
        "export_seconds": export_s, "export_events_per_s": exported / export_s if export_s else None,
        "capture_seconds": capture_s, "captured": written,
        "capture_events_per_s": written / capture_s if capture_s else None,
    }


if __name__ == "__main__":
    result = main(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
    print("RESULT " + json.dumps(result), flush=True)
