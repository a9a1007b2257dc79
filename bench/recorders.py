"""Event store benchmark: the library's own recorders against eventsourcing-sqlalchemy.

Runs the real :class:`registry.application.service.Registry` end to end (commands built with
``registry.application.commands.parse``) on four stores, side by side in one run:

* SQLite (a file in a temporary directory): ``eventsourcing.sqlite`` vs ``eventsourcing_sqlalchemy``
* PostgreSQL (127.0.0.1:5432, database ``test``; a fresh schema per run, dropped after):
  ``eventsourcing.postgres`` vs ``eventsourcing_sqlalchemy`` (psycopg 3 driver)

and measures

1. command throughput of a realistic batch lifecycle (place order, register 72 serials, request and
   grant export clearance, then ship / receive / install / assign in partial deliveries), every
   command with a ``request_id`` as the gRPC API sends it, single-threaded and with 8 threads
   sharing one Registry (as the server does);
2. reading the whole notification log through ``select_notifications`` (what projections do);
3. loading a batch with 40 events (below the snapshot interval of 50, so a full replay);
4. compatibility checks: ``subscribe()``, a 33-character tracking name, the refusal of a
   duplicate (aggregate, version) write, and answering a replayed ``request_id``.

Every figure is measured on this machine in this run; each round uses fresh stores and the
order of the two recorders alternates between rounds. Results: a table on stdout and
``bench/results/recorders.json``.

    python -m bench.recorders            # full run (a few minutes on 2 shared cores)
    python -m bench.recorders --quick    # smoke run (well under a minute)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

if __package__ in (None, ""):  # `python bench/recorders.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.persistence import IntegrityError, Tracking

from registry.application import commands as c
from registry.application.service import Registry
from registry.domain.base import Context
from registry.domain.batch import GpuBatch, Stage
from registry.infrastructure.store import ensure_postgres_schema, event_store_env, sqlalchemy_url

POSTGRES_URL = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RESULTS = Path(__file__).resolve().parent / "results" / "recorders.json"
KINDS = ("library", "sqlalchemy")
ACTOR = "bench"
UNITS = 72  # GPUs per batch: one server rack's worth, as in the story test
THREADS = 8


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Params:
    rounds: int
    single_lifecycles: int  # lifecycles run one after another
    threaded_lifecycles: int  # lifecycles per thread in the 8-thread run
    parts: int  # partial deliveries per lifecycle in the throughput runs
    load_parts: int  # partial deliveries of the batch that is loaded (9 -> 40 events)
    load_repeats: int
    log_repeats: int
    log_page: int = 1000

    @property
    def commands_per_lifecycle(self) -> int:
        return 4 + 4 * self.parts

    @property
    def events_per_lifecycle(self) -> int:
        # batch events + one RequestRecord per command (serial claims are index rows, not events)
        return self.commands_per_lifecycle + self.commands_per_lifecycle


FULL = Params(rounds=3, single_lifecycles=12, threaded_lifecycles=3, parts=3, load_parts=9,
              load_repeats=200, log_repeats=5)
QUICK = Params(rounds=1, single_lifecycles=2, threaded_lifecycles=1, parts=3, load_parts=9,
               load_repeats=30, log_repeats=2)


# --------------------------------------------------------------------------------- stores
@dataclass
class Store:
    """One fresh event store for one recorder kind; ``close`` removes what it created."""

    store: str  # "sqlite" | "postgres"
    kind: str  # "library" | "sqlalchemy"
    env: dict[str, str]
    description: str
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for fn in reversed(self._cleanup):
            with contextlib.suppress(Exception):
                fn()


def postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {e}".strip()


def open_store(store: str, kind: str, tmp: Path) -> Store:
    tag = uuid4().hex[:12]
    if store == "sqlite":
        path = tmp / f"{kind}-{tag}.db"
        if kind == "library":
            env = event_store_env(f"sqlite:///{path}")
        else:
            env = {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy", "SQLALCHEMY_URL": f"sqlite:///{path}",
                   "SERIAL_INDEX": "off"}
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
        return Store(store, kind, env, f"SQLite file {path.name} in a temporary directory")
    schema = f"bench_{tag}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}schema={schema}"
    ensure_postgres_schema(url)
    if kind == "library":
        env = event_store_env(url)
    else:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
            "SERIAL_INDEX": "off",
            "SQLALCHEMY_URL": sqlalchemy_url(url)[0],
            "SQLALCHEMY_SCHEMA": schema,
        }
    env["IS_SNAPSHOTTING_ENABLED"] = "y"
    s = Store(store, kind, env, f"PostgreSQL schema {schema}")
    s._cleanup.append(lambda: _drop_schema(schema))
    return s


def _drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def close_registry(reg: Registry) -> None:
    """Close the application and every pool it holds (the SQLAlchemy factory's close is a no-op)."""
    reg.close()
    datastore: Any = getattr(reg.factory, "datastore", None)
    engine = getattr(datastore, "engine", None)
    if engine is not None and hasattr(engine, "dispose"):
        engine.dispose()


# ---------------------------------------------------------------------- the command mix
@dataclass(frozen=True)
class Refs:
    supplier: UUID
    buyer: UUID
    consignee: UUID
    carrier: UUID
    tenant: UUID
    site: UUID
    model: UUID
    authorization: UUID


def seed(reg: Registry) -> Refs:
    """The reference data every batch needs (not timed)."""

    def party(name: str, country: str, roles: list[str]) -> UUID:
        return reg.register_party(ACTOR, c.parse(c.RegisterParty, {
            "name": name, "country": country, "roles": roles, "headquarters_country": country,
        })).aggregate_id

    supplier = party("NVIDIA Corporation", "US", ["supplier", "exporter"])
    buyer = party("Ministry of Science and ICT", "KR", ["purchaser"])
    consignee = party("Korea National AI Computing Center", "KR", ["consignee", "end_user", "operator"])
    carrier = party("Korean Air Cargo", "KR", ["carrier"])
    tenant = party("Sovereign LLM Consortium", "KR", ["end_user"])
    site = reg.register_site(ACTOR, c.parse(c.RegisterSite, {
        "name": "Gwangju AI Data Center", "operator_id": consignee, "country": "KR",
        "address": "Gwangju, KR", "power_capacity_kw": "40000",
    })).aggregate_id
    model = reg.register_gpu_model(ACTOR, c.parse(c.RegisterGpuModel, {
        "vendor": "NVIDIA", "name": "B200", "part_number": "699-2G520-0200",
        "dense_tops": {"fp8": "4500", "fp16": "2250"}, "bit_lengths": {"fp8": 8, "fp16": 16},
        "die_area_mm2": "1600", "datacenter_marketed": True, "tdp_watts": 1000,
    })).aggregate_id
    authorization = reg.register_authorization(ACTOR, c.parse(c.RegisterAuthorization, {
        "auth_type": "license", "number": "D1234567", "eccns": ["3A090"],
        "destination_countries": ["KR"], "consignee_ids": [consignee], "end_user_ids": [consignee],
        "valid_from": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
    })).aggregate_id
    return Refs(supplier, buyer, consignee, carrier, tenant, site, model, authorization)


def lifecycle(reg: Registry, refs: Refs, parts: int) -> tuple[UUID, int]:
    """One batch of 72 GPUs from purchase order to assignment. Returns (batch id, commands run)."""
    tag = uuid4().hex[:16].upper()
    n = 0

    def rid(step: str) -> str:
        nonlocal n
        n += 1
        return f"{tag}-{step}"

    batch = reg.place_order(ACTOR, c.parse(c.PlaceOrder, {
        "request_id": rid("order"), "po_number": f"PO-{tag}", "supplier_id": refs.supplier,
        "buyer_id": refs.buyer, "model_id": refs.model, "quantity": UNITS,
        "unit_price": "38500.00", "currency": "USD", "allocation_program": "sovereign-ai",
    })).aggregate_id
    serials = [f"SN{tag}{i:03d}" for i in range(UNITS)]
    reg.register_serials(ACTOR, c.parse(c.RegisterSerials, {
        "request_id": rid("serials"), "batch_id": batch,
        "units": [{"serial": s, "gpu_uuid": f"GPU-{uuid4()}"} for s in serials],
    }))
    reg.request_clearance(ACTOR, c.parse(c.RequestClearance, {
        "request_id": rid("request"), "batch_id": batch, "authorization_id": refs.authorization,
        "eccn": "3A090.a", "destination_country": "KR", "consignee_id": refs.consignee,
        "end_user_id": refs.consignee, "quantity": UNITS, "end_use": "sovereign AI training",
    }))
    reg.grant_clearance(ACTOR, c.parse(c.GrantClearance, {
        "request_id": rid("grant"), "batch_id": batch, "authorization_id": refs.authorization,
    }))
    size = -(-UNITS // parts)
    for k in range(parts):
        chunk = serials[k * size:(k + 1) * size]
        shipment = f"SHP-{tag}-{k}"
        reg.ship(ACTOR, c.parse(c.Ship, {
            "request_id": rid(f"ship{k}"), "batch_id": batch, "shipment_id": shipment,
            "carrier_id": refs.carrier, "origin": "Santa Clara, US", "destination_country": "KR",
            "destination_site_id": refs.site, "itn": f"X2026{k:02d}{tag[:8]}", "serials": chunk,
        }))
        reg.receive(ACTOR, c.parse(c.Receive, {
            "request_id": rid(f"receive{k}"), "batch_id": batch, "shipment_id": shipment,
            "receiving_party_id": refs.consignee, "site_id": refs.site, "serials": chunk,
        }))
        reg.install(ACTOR, c.parse(c.Install, {
            "request_id": rid(f"install{k}"), "batch_id": batch, "site_id": refs.site,
            "rack": f"R{k:02d}", "host": f"gpu-{tag[:6].lower()}-{k}", "serials": chunk,
        }))
        reg.assign(ACTOR, c.parse(c.Assign, {
            "request_id": rid(f"assign{k}"), "batch_id": batch, "assignee_id": refs.tenant,
            "purpose": "LLM training", "site_id": refs.site, "serials": chunk,
        }))
    return batch, n


def fully_assigned(reg: Registry, batch_id: UUID) -> bool:
    return reg.get_batch(batch_id).units_by_stage()[Stage.ASSIGNED] == UNITS


def log_length(reg: Registry, page: int) -> int:
    count, after = 0, 0
    while True:
        got = reg.read_log(after, page)
        if not got:
            return count
        count += len(got)
        after = got[-1].id


# ------------------------------------------------------------------------------ measuring
def measure_single(reg: Registry, refs: Refs, p: Params) -> dict[str, Any]:
    batches: list[UUID] = []
    commands = 0
    t = time.perf_counter()
    for _ in range(p.single_lifecycles):
        b, n = lifecycle(reg, refs, p.parts)
        batches.append(b)
        commands += n
    elapsed = time.perf_counter() - t
    events = p.single_lifecycles * p.events_per_lifecycle
    return {
        "lifecycles": p.single_lifecycles, "commands": commands, "events": events,
        "seconds": elapsed, "commands_per_s": commands / elapsed, "events_per_s": events / elapsed,
        "all_batches_fully_assigned": all(fully_assigned(reg, b) for b in batches),
    }


def measure_threaded(reg: Registry, refs: Refs, p: Params) -> dict[str, Any]:
    barrier = threading.Barrier(THREADS + 1)
    lock = threading.Lock()
    batches: list[UUID] = []
    errors: Counter[str] = Counter()
    first_error: list[str] = []
    commands = [0]

    def worker() -> None:
        barrier.wait()
        for _ in range(p.threaded_lifecycles):
            try:
                b, n = lifecycle(reg, refs, p.parts)
            except Exception as e:
                with lock:
                    errors[f"{type(e).__module__}.{type(e).__name__}"] += 1
                    if not first_error:
                        first_error.append("".join(traceback.format_exception_only(e)).strip()[:500])
                continue
            with lock:
                batches.append(b)
                commands[0] += n

    threads = [threading.Thread(target=worker, name=f"bench-{i}") for i in range(THREADS)]
    for th in threads:
        th.start()
    barrier.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    events = len(batches) * p.events_per_lifecycle
    return {
        "threads": THREADS, "lifecycles_attempted": THREADS * p.threaded_lifecycles,
        "lifecycles_completed": len(batches), "commands": commands[0], "events": events,
        "seconds": elapsed, "commands_per_s": commands[0] / elapsed, "events_per_s": events / elapsed,
        "errors": dict(errors), "first_error": first_error[0] if first_error else None,
        "all_batches_fully_assigned": all(fully_assigned(reg, b) for b in batches),
    }


def measure_log(reg: Registry, p: Params) -> dict[str, Any]:
    timings = []
    total = 0
    for _ in range(p.log_repeats):
        t = time.perf_counter()
        total = log_length(reg, p.log_page)
        timings.append(time.perf_counter() - t)
    best, median = min(timings), statistics.median(timings)
    return {
        "notifications": total, "page": p.log_page, "repeats": p.log_repeats,
        "median_seconds": median, "events_per_s": total / median, "best_events_per_s": total / best,
    }


def measure_load(reg: Registry, refs: Refs, p: Params) -> dict[str, Any]:
    batch, _ = lifecycle(reg, refs, p.load_parts)
    version = reg.get_batch(batch).version
    timings = []
    for _ in range(p.load_repeats):
        t = time.perf_counter()
        loaded: GpuBatch = reg.get_batch(batch)
        timings.append(time.perf_counter() - t)
        assert loaded.version == version
    timings.sort()
    # The recorder's share: fetching the stored events only, no decoding or replay.
    raw = []
    for _ in range(p.load_repeats):
        t = time.perf_counter()
        stored = reg.recorder.select_events(batch)
        raw.append(time.perf_counter() - t)
        assert len(stored) == version
    return {
        "batch_events": version, "repeats": p.load_repeats,
        "median_ms": statistics.median(timings) * 1000,
        "p90_ms": timings[int(0.9 * (len(timings) - 1))] * 1000,
        "min_ms": timings[0] * 1000,
        "select_events_median_ms": statistics.median(raw) * 1000,
    }


# -------------------------------------------------------------------- compatibility checks
def check_compat(reg: Registry, refs: Refs) -> dict[str, Any]:
    out: dict[str, Any] = {}

    # 1. subscribe(): how projections learn of new events without polling.
    try:
        sub = reg.recorder.subscribe(gt=reg.head())
        with contextlib.suppress(Exception):
            sub.stop()
            sub.__exit__(None, None, None)
        out["subscribe"] = "supported"
    except NotImplementedError as e:
        out["subscribe"] = "NotImplementedError: " + re.sub(r" object at 0x[0-9a-f]+", "", str(e))

    # 2. A tracking record whose application name is 33 characters long.
    name = "GpuRegistryComplianceProjection1"  # 32
    long_name = name + "X"  # 33
    try:
        tracker = reg.factory.tracking_recorder()
        tracker.insert_tracking(Tracking(application_name=name, notification_id=1))
        try:
            tracker.insert_tracking(Tracking(application_name=long_name, notification_id=1))
            stored = tracker.max_tracking_id(long_name)
            out["tracking_name_33_chars"] = f"accepted (read back max_tracking_id={stored})"
        except Exception as e:
            out["tracking_name_33_chars"] = f"refused: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        out["tracking_name_32_chars"] = "accepted"
    except Exception as e:
        out["tracking_name_32_chars"] = f"refused: {type(e).__name__}: {str(e).splitlines()[0][:200]}"

    # 3. Two writers save the same (aggregate, version): the store must refuse the second.
    batch, _ = lifecycle(reg, refs, 1)
    a, b = reg.get_batch(batch), reg.get_batch(batch)
    for copy in (a, b):
        copy.correct_order(_ctx(), {"allocation_program": f"race-{id(copy)}"}, "benchmark race")
    reg.save(a)
    try:
        reg.save(b)
        out["duplicate_version_refused"] = False
    except IntegrityError:
        out["duplicate_version_refused"] = True

    # 4. A replayed request_id answers the original position (and how long that takes).
    cmd = c.parse(c.CorrectOrder, {"request_id": f"replay-{uuid4().hex}", "batch_id": batch,
                                   "allocation_program": "replayed", "reason": "benchmark replay"})
    first = reg.correct_order(ACTOR, cmd)
    timings = []
    for _ in range(5):
        t = time.perf_counter()
        again = reg.correct_order(ACTOR, cmd)
        timings.append(time.perf_counter() - t)
    out["replay_same_position"] = again.replayed and again.position == first.position
    out["replay_median_ms"] = statistics.median(timings) * 1000
    out["log_length_at_replay"] = reg.head()
    return out


def _ctx() -> Context:
    return Context(actor=ACTOR, request_id="", occurred_at=datetime.now(UTC))


# --------------------------------------------------------------------------------- driver
def run_one(store: str, kind: str, tmp: Path, p: Params) -> dict[str, Any]:
    s = open_store(store, kind, tmp)
    result: dict[str, Any] = {"store": store, "kind": kind, "where": s.description,
                              "persistence_module": s.env["PERSISTENCE_MODULE"]}
    reg: Registry | None = None
    try:
        try:
            reg = Registry(env=s.env)
            refs = seed(reg)
            seeded = log_length(reg, p.log_page)
        except Exception as e:
            result["failed"] = f"setup: {type(e).__name__}: {e}"
            return result
        steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("single", lambda: measure_single(reg, refs, p)),
            ("threaded", lambda: measure_threaded(reg, refs, p)),
            ("log", lambda: measure_log(reg, p)),
            ("load", lambda: measure_load(reg, refs, p)),
            ("compat", lambda: check_compat(reg, refs)),
        ]
        for name, fn in steps:
            try:
                result[name] = fn()
            except Exception as e:
                result[name] = {"failed": f"{type(e).__name__}: {e}"[:1000],
                                "traceback": traceback.format_exc()[-2000:]}
        # Every event the completed commands should have written is in the log, and nothing else.
        expected = seeded + sum(result[k].get("events", 0) for k in ("single", "threaded"))
        result["log_events_expected"] = expected
        result["log_matches_commands"] = result["log"].get("notifications") == expected
        return result
    finally:
        if reg is not None:
            with contextlib.suppress(Exception):
                close_registry(reg)
        s.close()


METRICS: list[tuple[str, str, str, bool]] = [
    # (section, key, label, higher is better)
    ("single", "commands_per_s", "commands/s, 1 thread", True),
    ("single", "events_per_s", "events/s written, 1 thread", True),
    ("threaded", "commands_per_s", f"commands/s, {THREADS} threads", True),
    ("threaded", "events_per_s", f"events/s written, {THREADS} threads", True),
    ("log", "events_per_s", "log read, notifications/s", True),
    ("load", "median_ms", "load 40-event batch, median ms", False),
    ("load", "p90_ms", "load 40-event batch, p90 ms", False),
    ("load", "select_events_median_ms", "  of which select_events, median ms", False),
    ("compat", "replay_median_ms", "replayed request_id, median ms (*)", False),
]


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Median across rounds of every metric, per kind."""
    out: dict[str, dict[str, float | None]] = {}
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        out[kind] = {}
        for section, key, _label, _hib in METRICS:
            values = [r[section][key] for r in mine if key in r.get(section, {})]
            out[kind][f"{section}.{key}"] = statistics.median(values) if values else None
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "note": "2 cores shared with other concurrent jobs; figures are noisy, compare ratios",
    }
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = os.getloadavg()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    for dist in ("eventsourcing", "eventsourcing-sqlalchemy", "SQLAlchemy", "psycopg", "SQLAlchemy-Utils"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            info[dist] = importlib.metadata.version(dist)
    return info


def postgres_version() -> str | None:
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    return None


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


def print_table(store: str, summary: dict[str, dict[str, float | None]]) -> None:
    lib, sa = summary["library"], summary["sqlalchemy"]
    print(f"\n{store}: median of rounds   (ratio = sqlalchemy / library; "
          "for rates >1 means sqlalchemy is faster, for times >1 means it is slower)")
    print(f"  {'metric':<38} {'library':>12} {'sqlalchemy':>12} {'ratio':>7}")
    for section, key, label, _hib in METRICS:
        a, b = lib[f"{section}.{key}"], sa[f"{section}.{key}"]
        ratio = f"{b / a:.2f}" if a and b else "n/a"
        print(f"  {label:<38} {fmt(a):>12} {fmt(b):>12} {ratio:>7}")
    print("  (*) a replay answers the log position of the original event; registry's store.position_of\n"
          "      has a query for each library recorder but none for eventsourcing_sqlalchemy, so there it\n"
          "      scans the whole log: a cost of our adapter, not of eventsourcing-sqlalchemy.")


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (one round, few lifecycles)")
    ap.add_argument("--rounds", type=int, help="rounds per store (default 3, quick 1)")
    ap.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    ap.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    args = ap.parse_args(argv)
    p = QUICK if args.quick else FULL
    if args.rounds:
        p = Params(**{**p.__dict__, "rounds": args.rounds})

    report: dict[str, Any] = {
        "benchmark": "bench/recorders.py", "started_at": datetime.now(UTC).isoformat(),
        "quick": args.quick, "params": {**p.__dict__, "commands_per_lifecycle": p.commands_per_lifecycle,
                                        "events_per_lifecycle": p.events_per_lifecycle,
                                        "threads": THREADS, "units_per_batch": UNITS},
        "machine": machine(), "stores": {},
    }
    stores = ["sqlite", "postgres"]
    reason = "--no-postgres given" if args.no_postgres else postgres_unavailable()
    if reason:
        print(f"PostgreSQL skipped: {reason}")
        report["stores"]["postgres"] = {"skipped": reason}
        stores.remove("postgres")
    else:
        report["machine"]["postgres_server"] = postgres_version()

    print(f"Registry lifecycle: {p.commands_per_lifecycle} commands, {p.events_per_lifecycle} events "
          f"({UNITS} serials, {p.parts} partial deliveries); {p.rounds} round(s) per store")
    with tempfile.TemporaryDirectory(prefix="gpureg-bench-") as tmpdir, quiet_warnings():
        for store in stores:
            runs: list[dict[str, Any]] = []
            for rnd in range(p.rounds):
                order = KINDS if rnd % 2 == 0 else tuple(reversed(KINDS))
                for kind in order:
                    t = time.perf_counter()
                    r = run_one(store, kind, Path(tmpdir), p)
                    r["round"] = rnd + 1
                    runs.append(r)
                    status = r.get("failed") or ", ".join(
                        f"{k} FAILED" for k in ("single", "threaded", "log", "load", "compat")
                        if isinstance(r.get(k), dict) and "failed" in r[k]) or "ok"
                    took = time.perf_counter() - t
                    print(f"  {store:<8} round {rnd + 1} {kind:<10} {took:6.1f}s  {status}")
            summary = summarise(runs)
            report["stores"][store] = {"runs": runs, "median": summary}
            print_table(store, summary)
            for kind in KINDS:
                last = [r for r in runs if r["kind"] == kind][-1]
                compat = last.get("compat", {})
                errs = [r["threaded"].get("errors") for r in runs
                        if r["kind"] == kind and r.get("threaded", {}).get("errors")]
                checks = [(r.get("log_matches_commands"),
                           r.get("single", {}).get("all_batches_fully_assigned"),
                           r.get("threaded", {}).get("all_batches_fully_assigned"))
                          for r in runs if r["kind"] == kind]
                print(f"  {kind}: every run's log holds exactly the events written and every batch ends "
                      f"fully assigned: {all(all(x) for x in checks)}")
                print(f"  {kind}: subscribe={compat.get('subscribe')}; "
                      f"33-char tracking name={compat.get('tracking_name_33_chars')}; "
                      f"duplicate refused={compat.get('duplicate_version_refused')}; "
                      f"{THREADS}-thread errors={errs or 'none'}")
    with contextlib.suppress(OSError):
        report["machine"]["loadavg_at_end"] = os.getloadavg()
    report["finished_at"] = datetime.now(UTC).isoformat()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
