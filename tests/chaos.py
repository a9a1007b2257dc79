"""Fault injection against real processes on loopback: what ``make chaos`` and its CI round run.

* :func:`kill_rounds` - ``gpureg serve`` (with its projection process) under load from several
  gRPC clients; at random moments the server or its projection worker is killed with SIGKILL
  and the server started again on the same port. Clients retry every unanswered command with
  the same ``request_id`` until it is acknowledged, and re-send some acknowledged ones. Then
  :func:`check_store`: every acknowledged command is in the log exactly once, every re-sent one
  was answered ``replayed`` and wrote nothing, and each read model equals a rebuild from the log.
* :func:`postgres_outage` - a throwaway PostgreSQL cluster stopped mid-load and started again:
  clients see UNAVAILABLE meanwhile, the server serves again without a restart.
* :func:`disk_full` - the SQLite store on a small filesystem (a tmpfs the suite mounts) filled
  up mid-load: commands are refused UNAVAILABLE with the disk-full message, and served again
  once space is freed, without a restart.
* :func:`racing_writers` - many threads move single units out of a few hot batches at once
  through the Registry: no acknowledged move is lost, quantities add up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import commands_pb2_grpc

GPUREG = str(Path(sys.executable).with_name("gpureg"))
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
             grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``gpureg serve`` on a fixed loopback port, to kill and start again."""

    def __init__(self, url: str, port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.url, self.port, self.log = url, port, log
        self.env = {**os.environ, "GPUREG_DATABASE_URL": url, "GPUREG_LISTEN": f"127.0.0.1:{port}",
                    "GPUREG_LOG_LEVEL": "WARNING", **(env or {})}
        self.proc: subprocess.Popen[str] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.log.open("a") as log:
                proc = subprocess.Popen([GPUREG, "serve"], env=self.env, stdout=subprocess.PIPE, stderr=log,
                                        text=True)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if "listening on" in line:
                self.proc = proc
                return
            proc.wait()
            if time.monotonic() > deadline:  # the port may take a moment to be free after a kill
                raise RuntimeError(f"gpureg serve did not start: {line!r}; see {self.log}")
            time.sleep(0.2)

    def workers(self) -> list[int]:
        """Its projection worker processes (started by any of its threads)."""
        assert self.proc is not None
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                try:
                    if "projections" in Path(f"/proc/{child}/cmdline").read_text():
                        pids.append(int(child))
                except OSError:
                    pass
        return pids

    def kill_server(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def kill_worker(self) -> bool:
        for pid in self.workers():
            try:
                os.kill(pid, signal.SIGKILL)
                return True
            except ProcessLookupError:
                pass
        return False

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


@dataclass
class Ledger:
    """What the clients were told: acknowledged request ids (by kind), replays checked, codes seen."""

    acked: dict[str, str] = field(default_factory=dict)  # request_id -> command kind
    replays: int = 0
    replay_failures: list[str] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)  # "CODE: message" of each refusal
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    """Places orders and corrects them, retrying each command with its request_id until answered."""

    def __init__(self, name: str, address: str, world: dict[str, str], ledger: Ledger, stop: threading.Event,
                 rng: random.Random, deadline: float = 10.0) -> None:
        super().__init__(name=name, daemon=True)
        self.address, self.world, self.ledger, self.stop_event, self.rng = address, world, ledger, stop, rng
        self.deadline = deadline  # seconds each call may take
        self.batches: list[str] = []
        self.sent = 0
        self.errors: list[str] = []

    def _call(self, stub: Any, method: str, request: Any) -> Any:
        """Until answered: a retryable status is retried with the same request (same request_id)."""
        while True:
            try:
                response = getattr(stub, method)(request, timeout=self.deadline)
                self.ledger.codes["OK"] += 1
                return response
            except grpc.RpcError as e:
                code = e.code()  # type: ignore[attr-defined]
                self.ledger.codes[code.name] += 1
                self.ledger.messages[f"{code.name}: {e.details()}"] += 1  # type: ignore[attr-defined]
                if code not in RETRYABLE:
                    raise
                time.sleep(0.05 + self.rng.random() * 0.1)

    def run(self) -> None:
        # reconnect quickly after a kill (grpc's default backoff grows to minutes)
        channel = grpc.insecure_channel(self.address, options=[
            ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 500)])
        stub = commands_pb2_grpc.CommandServiceStub(channel)
        done: list[tuple[str, Any]] = []
        try:
            while not self.stop_event.is_set():
                rid = f"{self.name}-{self.sent}"
                self.sent += 1
                if not self.batches or self.rng.random() < 0.5:
                    method, request = "PlaceOrder", c.PlaceOrderRequest(
                        request_id=rid, batch_id=str(uuid.uuid4()), po_number=f"PO-{rid}",
                        supplier_id=self.world["supplier"], buyer_id=self.world["buyer"],
                        model_id=self.world["model"], quantity=8, unit_price="31250.00", currency="USD")
                else:
                    method, request = "CorrectOrder", c.CorrectOrderRequest(
                        request_id=rid, batch_id=self.rng.choice(self.batches), po_number=f"PO-{rid}-fix",
                        reason="chaos correction")
                response = self._call(stub, method, request)
                if method == "PlaceOrder":
                    self.batches.append(response.aggregate_id)
                with self.ledger.lock:
                    self.ledger.acked[rid] = method
                done.append((method, request))
                if self.rng.random() < 0.1:  # a client that never saw the answer retries: same result
                    again_method, again = self.rng.choice(done)
                    answer = self._call(stub, again_method, again)
                    with self.ledger.lock:
                        self.ledger.replays += 1
                        if not answer.replayed:
                            self.ledger.replay_failures.append(again.request_id)
        except Exception as e:  # reported by the caller
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            channel.close()


def build_world(address: str) -> dict[str, str]:
    """Reference data over the API (with retries), the ids the clients need."""
    from types import SimpleNamespace

    from tests.e2e.world import build_world as world_over_api

    with grpc.insecure_channel(address) as channel:
        w = world_over_api(SimpleNamespace(commands=commands_pb2_grpc.CommandServiceStub(channel)))
        return {"supplier": w.supplier, "buyer": w.buyer, "model": w.model}


@dataclass
class KillReport:
    server_kills: int = 0
    worker_kills: int = 0
    acked: int = 0
    replays: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0
    replay_failures: int = 0
    read_models_equal_rebuild: bool = False
    seconds: float = 0.0


def kill_rounds(url: str, workdir: Path, rounds: int, clients: int, seed: int,
                pause: tuple[float, float] = (0.3, 1.2), say: Callable[[str], None] = lambda _: None) -> KillReport:
    """Run the kill -9 rounds on ``url`` and check the store (see the module docstring)."""
    rng = random.Random(seed)
    started = time.monotonic()
    serve = Serve(url, free_port(), workdir / "serve.log")
    serve.start()
    report = KillReport()
    ledger = Ledger()
    stop = threading.Event()
    try:
        world = build_world(serve.address)
        threads = [Client(f"c{i}-{seed}", serve.address, world, ledger, stop, random.Random(rng.random()))
                   for i in range(clients)]
        for t in threads:
            t.start()
        for n in range(rounds):
            _await_load(ledger, clients, timeout=30)  # the clients are writing again
            time.sleep(rng.uniform(*pause))
            if rng.random() < 0.7 or not serve.workers():
                serve.kill_server()
                report.server_kills += 1
                time.sleep(rng.uniform(0, 0.3))
                serve.start()
            elif serve.kill_worker():
                report.worker_kills += 1
            say(f"round {n + 1}/{rounds}: {report.server_kills} server kills, {report.worker_kills} worker "
                f"kills, {len(ledger.acked)} acknowledged")
        time.sleep(rng.uniform(*pause))
        stop.set()
        for t in threads:
            t.join(120)
        errors = [e for t in threads for e in t.errors]
        assert not errors, errors
    finally:
        stop.set()
        serve.stop()
    report.acked, report.replays = len(ledger.acked), ledger.replays
    report.replay_failures = len(ledger.replay_failures)
    report.codes = dict(ledger.codes)
    report.lost, report.duplicated, report.read_models_equal_rebuild = check_store(url, ledger.acked)
    report.seconds = time.monotonic() - started
    return report


def _stop_clients(stop: threading.Event, threads: list[Client], serve: Serve, server_pid: int) -> int:
    """Stop the clients and fail on their errors; 0 if the same server process still serves, else 1
    (the number of server restarts a fault needed)."""
    stop.set()
    for t in threads:
        t.join(120)
    errors = [e for t in threads for e in t.errors]
    assert not errors, errors
    return 0 if serve.proc is not None and serve.proc.pid == server_pid and serve.proc.poll() is None else 1


def _await_load(ledger: Ledger, n: int, timeout: float) -> None:
    """Until ``n`` more commands have been acknowledged (or ``timeout`` seconds passed)."""
    target = len(ledger.acked) + n
    deadline = time.monotonic() + timeout
    while len(ledger.acked) < target and time.monotonic() < deadline:
        time.sleep(0.05)


EVENT_OF = {"PlaceOrder": "GpuBatch.Ordered", "CorrectOrder": "GpuBatch.OrderCorrected"}


def check_store(url: str, acked: dict[str, str]) -> tuple[int, int, bool]:
    """(acknowledged commands missing from the log, request ids applied more than once, whether every
    read model equals a rebuild from the log)."""
    from projections.catalog import default_projections
    from projections.db import open_engine
    from projections.runner import ProjectionRunner, rebuild
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.server.convert import event_type_of_topic
    from tests.projection_workload import dump_active

    settings = Settings(database_url=url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    try:
        writes: Counter[tuple[str, str]] = Counter()
        for n in registry.read_log(0, 10**9):
            kind = event_type_of_topic(n.topic)
            if kind in EVENT_OF.values():
                request_id = str(registry.decode(n).request_id)  # type: ignore[attr-defined]
                writes[(request_id, kind)] += 1
        lost = sum(1 for rid, method in acked.items() if writes[(rid, EVENT_OF[method])] == 0)
        duplicated = sum(1 for count in writes.values() if count > 1)
        # the projections catch up (as the server's worker would), then each must equal a rebuild
        _catch_up(ProjectionRunner(registry, engine, default_projections()), registry, engine)
        equal = True
        for projection in default_projections():
            incremental = dump_active(engine, projection)
            rebuild(registry, engine, projection)
            equal = equal and dump_active(engine, projection) == incremental
        return lost, duplicated, equal
    finally:
        engine.dispose()
        registry.close()


def _catch_up(runner: Any, registry: Any, engine: Any) -> None:
    from projections.queries import ReadModels

    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    try:
        assert ReadModels(engine, registry).wait_for_position(registry.head(), timeout=300)
    finally:
        runner.request_stop()
        thread.join(60)


# ------------------------------------------------------------------------------ racing writers
@dataclass
class RaceReport:
    writers: int = 0
    commands: int = 0
    acked: int = 0
    conflicts: int = 0
    batches: int = 0
    lost_updates: int = 0
    invariant_breaks: list[str] = field(default_factory=list)
    seconds: float = 0.0


def racing_writers(url: str, writers: int, per_writer: int, hot_batches: int = 4, seed: int = 0) -> RaceReport:
    """``writers`` threads each ship ``per_writer`` single units out of ``hot_batches`` batches at once,
    through one Registry (the server's path without the network). Every acknowledged ship must be in
    its batch (in-transit units and version), and every batch's units must add up to its quantity."""
    from registry.application import commands as cmds
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.domain.errors import ConcurrencyConflict
    from tests.builders import make_world

    rng = random.Random(seed)
    registry = build_registry(Settings(database_url=url, max_occurred_ahead_seconds=10 * 366 * 24 * 3600))
    report = RaceReport(writers=writers, commands=writers * per_writer, batches=hot_batches)
    started = time.monotonic()
    try:
        world = make_world(registry)
        quantity = writers * per_writer
        batches = []
        for _ in range(hot_batches):
            batch = world.order(quantity=quantity)
            world.clear(batch, quantity=quantity)
            batches.append(batch)
        before = {b: registry.get_batch(b).version for b in batches}  # type: ignore[attr-defined]
        acked: Counter[Any] = Counter()
        lock = threading.Lock()

        def write(w: int) -> None:
            local = random.Random(rng.random())
            for i in range(per_writer):
                batch = local.choice(batches)
                cmd = cmds.parse(cmds.Ship, {
                    "request_id": f"race-{seed}-{w}-{i}", "batch_id": batch, "shipment_id": f"S-{w}-{i}",
                    "quantity": 1, "carrier_id": world.carrier, "origin": "Santa Clara, US",
                    "destination_country": "KR", "destination_site_id": world.site, "itn": "X20260305123456",
                })
                while True:
                    try:
                        registry.ship("racer", cmd)
                        break
                    except ConcurrencyConflict:
                        with lock:
                            report.conflicts += 1
                with lock:
                    acked[batch] += 1

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report.acked = sum(acked.values())
        for batch in batches:
            state = registry.get_batch(batch)  # type: ignore[attr-defined]
            by_stage = state.units_by_stage()
            if by_stage.get("in_transit", 0) != acked[batch] or state.version != before[batch] + acked[batch]:
                report.lost_updates += abs(acked[batch] - by_stage.get("in_transit", 0))
            if sum(by_stage.values()) != quantity:
                report.invariant_breaks.append(f"{batch}: units {by_stage} do not add up to {quantity}")
    finally:
        registry.close()
    report.seconds = time.monotonic() - started
    return report


def parse_listening(line: str) -> str | None:
    found = re.search(r"listening on (\S+?:\d+)", line)
    return found.group(1) if found else None


# ------------------------------------------------------------------------------ a database outage
class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb, pg_ctl) on a free loopback port, to stop and start.

    PostgreSQL refuses to run as root; the cluster is then run as ``nobody`` (runuser)."""

    BIN = Path(os.environ.get("GPUREG_PG_BIN", "/usr/local/bin"))

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pg"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o777)
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@dataclass
class OutageReport:
    outage_seconds: float = 0.0
    client_deadline: float = 0.0
    acked_before: int = 0
    acked_during: int = 0
    acked_after: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    codes_during: dict[str, int] = field(default_factory=dict)
    codes_after: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0
    read_models_equal_rebuild: bool = False
    server_restarts: int = 0


def postgres_outage(workdir: Path, outage: float = 10.0, clients: int = 4, seed: int = 0,
                    deadline: float = 2.0) -> OutageReport:
    """A server on a throwaway cluster under load from clients whose calls have ``deadline``
    seconds; the cluster is stopped (immediate: as if it died) for ``outage`` seconds and started
    again. The server is never restarted. ``codes_during`` are the answers while it was down,
    ``codes_after`` until 20 more commands were acknowledged after it was back."""
    pg = ThrowawayPostgres(workdir)
    pg.init()
    pg.start()
    try:
        return _outage(pg, workdir, outage, clients, seed, deadline)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            pg.stop("fast")


def _outage(pg: ThrowawayPostgres, workdir: Path, outage: float, clients: int, seed: int,
            deadline: float) -> OutageReport:
    rng = random.Random(seed)
    report = OutageReport(client_deadline=deadline)
    ledger = Ledger()
    stop = threading.Event()
    serve = Serve(pg.url, free_port(), workdir / "serve.log")
    serve.start()
    server_pid = serve.proc.pid if serve.proc else 0
    try:
        world = build_world(serve.address)
        threads = [Client(f"o{i}-{seed}", serve.address, world, ledger, stop, random.Random(rng.random()),
                          deadline=deadline) for i in range(clients)]
        for t in threads:
            t.start()
        time.sleep(3)
        report.acked_before = len(ledger.acked)
        codes_before = Counter(ledger.codes)
        pg.stop("immediate")
        down = time.monotonic()
        time.sleep(outage)
        codes_down = Counter(ledger.codes)
        report.codes_during = dict(codes_down - codes_before)
        report.acked_during = len(ledger.acked) - report.acked_before
        pg.start()
        report.outage_seconds = time.monotonic() - down
        acked_at_restart = len(ledger.acked)
        wait_until = time.monotonic() + 60
        while len(ledger.acked) < acked_at_restart + 20 and time.monotonic() < wait_until:
            time.sleep(0.2)
        report.codes_after = dict(Counter(ledger.codes) - codes_down)
        report.acked_after = len(ledger.acked) - acked_at_restart
        report.server_restarts = _stop_clients(stop, threads, serve, server_pid)
    finally:
        stop.set()
        serve.stop()
    report.codes = dict(ledger.codes)
    report.lost, report.duplicated, report.read_models_equal_rebuild = check_store(pg.url, ledger.acked)
    return report


# ------------------------------------------------------------------------------ a full disk
DISK_FULL = "disk is full"  # in the message of the UNAVAILABLE a full store's disk is answered with


def mount_refused(where: Path) -> str | None:
    """Why a small filesystem cannot be mounted here (None when it can): mounting needs root
    (CAP_SYS_ADMIN). Tries a 1 MB tmpfs on ``where`` and unmounts it."""
    if not shutil.which("mount") or not shutil.which("umount"):
        return "no mount/umount command"
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "gpureg-probe", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN; uid {os.geteuid()}): "
                f"{done.stderr.strip() or done.returncode}")
    subprocess.run(["umount", str(where)], capture_output=True, check=False)
    return None


@contextlib.contextmanager
def small_filesystem(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MB mounted on ``where``, unmounted afterwards (lazily when still busy)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0777", "gpureg-chaos", str(where)],
                   capture_output=True, text=True, check=True)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem has no space left; the bytes written."""
    chunk = b"\0" * 65536
    written = 0
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return written
                chunk = chunk[: len(chunk) // 16 or 1]  # the last few blocks too


@dataclass
class DiskFullReport:
    filesystem_mb: int = 0
    acked_before: int = 0
    acked_full: int = 0
    acked_after: int = 0
    disk_full_answers: int = 0
    codes_full: dict[str, int] = field(default_factory=dict)
    messages_full: list[str] = field(default_factory=list)  # distinct messages while full
    codes: dict[str, int] = field(default_factory=dict)
    seconds_full: float = 0.0
    seconds_to_serve_again: float = 0.0
    lost: int = 0
    duplicated: int = 0
    read_models_equal_rebuild: bool = False
    server_restarts: int = 0


def disk_full(workdir: Path, size_mb: int = 8, clients: int = 4, seed: int = 0, full_answers: int = 20,
              deadline: float = 10.0) -> DiskFullReport:
    """``gpureg serve`` with its SQLite store (and read models) on a ``size_mb`` MB tmpfs, under
    load from ``clients`` clients; a filler file takes the rest of the space until the clients
    have been refused ``full_answers`` times (at most 60 s); the filler is deleted and the
    clients must be served again. The server is never restarted."""
    report = DiskFullReport(filesystem_mb=size_mb)
    with small_filesystem(workdir / "small-disk", size_mb) as disk:
        url = f"sqlite:///{disk}/registry.db"
        ledger = Ledger()
        stop = threading.Event()
        serve = Serve(url, free_port(), workdir / "serve-disk-full.log")
        serve.start()
        server_pid = serve.proc.pid if serve.proc else 0
        rng = random.Random(seed)
        try:
            world = build_world(serve.address)
            threads = [Client(f"f{i}-{seed}", serve.address, world, ledger, stop, random.Random(rng.random()),
                              deadline=deadline) for i in range(clients)]
            for t in threads:
                t.start()
            _await_load(ledger, 2 * clients, timeout=30)
            report.acked_before = len(ledger.acked)
            codes_before, messages_before = Counter(ledger.codes), Counter(ledger.messages)
            filled = time.monotonic()
            fill(disk / "filler")

            def full_seen() -> int:
                return sum(n for m, n in (ledger.messages - messages_before).items()
                           if m.startswith("UNAVAILABLE") and DISK_FULL in m)

            give_up = time.monotonic() + 60
            while full_seen() < full_answers and time.monotonic() < give_up:
                time.sleep(0.05)
            report.codes_full = dict(Counter(ledger.codes) - codes_before)
            report.messages_full = sorted(ledger.messages - messages_before)[:10]
            report.disk_full_answers = full_seen()
            report.acked_full = len(ledger.acked) - report.acked_before
            (disk / "filler").unlink()
            freed = time.monotonic()
            report.seconds_full = freed - filled
            acked_at_free = len(ledger.acked)
            give_up = freed + 60
            while len(ledger.acked) == acked_at_free and time.monotonic() < give_up:
                time.sleep(0.02)
            report.seconds_to_serve_again = time.monotonic() - freed
            while len(ledger.acked) < acked_at_free + 20 and time.monotonic() < give_up:
                time.sleep(0.1)
            report.acked_after = len(ledger.acked) - acked_at_free
            report.server_restarts = _stop_clients(stop, threads, serve, server_pid)
        finally:
            stop.set()
            serve.stop()
        report.codes = dict(ledger.codes)
        report.lost, report.duplicated, report.read_models_equal_rebuild = check_store(url, ledger.acked)
    return report
