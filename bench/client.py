"""The benchmark's gRPC client (grpc.aio), the same code against the registry and the no-op server.

* :func:`closed_loop`: ``clients`` concurrent callers, each sending its next command as soon as the
  previous one is answered, for a fixed time; latencies of the calls that start after the warm-up.
* :func:`paced`: open loop at a steady offered rate (sends are due on a fixed schedule whether or
  not earlier ones were answered), over many independent lanes (batches), recording each
  response's time and log position.
* :class:`ProjectionWatch`: polls ``QueryService.GetProjectionStatus`` and records when every
  projection reached which position (for the append-to-projection lag and the load chart).
* :func:`stream_all`: ``EventService.SubscribeEvents`` from position 0 until caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message

from bench.stats import schedule
from registry.api.v1 import commands_pb2_grpc, events_pb2, events_pb2_grpc, queries_pb2, queries_pb2_grpc
from registry.demo.grpc_load import rpc_name, to_request, wait_for_projections
from registry.demo.scenario import Step
from registry.security.client import ClientCredentials

ACTOR = "bench"
METADATA: tuple[tuple[str, str], ...] = (("x-gpureg-actor", ACTOR),)
CREDENTIALS = ClientCredentials()
MAX_MESSAGE = 64 * 1024 * 1024
OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]


@dataclass(frozen=True)
class Prepared:
    """A command ready to send: the RPC name and its request message (built before timing)."""

    rpc: str
    request: Message


def prepare(steps: Sequence[Step]) -> list[Prepared]:
    return [Prepared(rpc_name(s.method), to_request(s)) for s in steps]


def channel(target: str) -> grpc.aio.Channel:
    """One channel; a target naming several servers (``ipv4:a:1,b:2``) balances round-robin over them."""
    balanced = [("grpc.lb_policy_name", "round_robin")] if "," in target else []
    return CREDENTIALS.aio_channel(target, OPTIONS + balanced)


def use_credentials(credentials: ClientCredentials) -> None:
    """Call the server with these credentials from now on (TLS, client certificate, token)."""
    global CREDENTIALS, METADATA  # noqa: PLW0603  # the benchmark's one client configuration
    CREDENTIALS = credentials
    METADATA = (("x-gpureg-actor", ACTOR), *credentials.metadata)


async def send_all(target: str, steps: Sequence[Step], concurrency: int = 16) -> int:
    """Send steps grouped by ``Step.group`` (each group in order, groups concurrently); returns
    the greatest position answered. For setting up (reference data, warm batches)."""
    groups: dict[str, list[Step]] = {}
    for s in steps:
        groups.setdefault(s.group or s.label, []).append(s)
    top = 0
    gate = asyncio.Semaphore(concurrency)
    async with channel(target) as ch:
        stub = commands_pb2_grpc.CommandServiceStub(ch)

        async def run(group: list[Step]) -> None:
            nonlocal top
            async with gate:
                for p in prepare(group):
                    response = await getattr(stub, p.rpc)(p.request, metadata=METADATA, timeout=120)
                    top = max(top, response.position)

        # every group finishes (or fails) before the channel closes: a failure left the others
        # running on a closed channel ("Event loop is closed" from gRPC's poller)
        outcomes = await asyncio.gather(*(run(g) for g in groups.values()), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        raise failed[0]
    return top


# ------------------------------------------------------------------------------ closed loop
@dataclass
class ClosedLoopResult:
    clients: int
    seconds: float  # the measured window
    completed: int  # calls answered OK that started inside the window
    errors: int
    latencies: list[float] = field(default_factory=list)  # seconds
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


async def closed_loop(
    target: str,
    plans: Sequence[Iterator[Prepared]],
    *,
    duration: float,
    warmup: float,
    tick: Callable[[float], None] | None = None,
) -> ClosedLoopResult:
    """Run ``len(plans)`` clients, each taking its commands from its own plan, for ``warmup +
    duration`` seconds; count and time the calls started after the warm-up and answered before
    the end."""
    result = ClosedLoopResult(clients=len(plans), seconds=duration, completed=0, errors=0)
    async with channel(target) as ch:
        stub = commands_pb2_grpc.CommandServiceStub(ch)
        methods: dict[str, Any] = {}
        loop = asyncio.get_running_loop()
        start = loop.time()
        window_start = start + warmup
        end = window_start + duration

        async def client(plan: Iterator[Prepared]) -> None:
            while True:
                now = loop.time()
                if now >= end:
                    return
                item = next(plan)
                method = methods.get(item.rpc)
                if method is None:
                    method = methods[item.rpc] = getattr(stub, item.rpc)
                t0 = time.perf_counter()
                began = loop.time()
                try:
                    await method(item.request, metadata=METADATA, timeout=60)
                except grpc.aio.AioRpcError as e:
                    result.errors += 1
                    if len(result.error_samples) < 5:
                        result.error_samples.append(f"{item.rpc}: {e.code().name}: {e.details()}")
                    continue
                elapsed = time.perf_counter() - t0
                if began >= window_start and loop.time() <= end:
                    result.completed += 1
                    result.latencies.append(elapsed)

        async def ticker() -> None:
            while loop.time() < end:
                if tick is not None:
                    tick(min(loop.time() - start, warmup + duration))
                await asyncio.sleep(0.25)

        await asyncio.gather(ticker(), *(client(p) for p in plans))
    return result


# ------------------------------------------------------------------------------ open loop
@dataclass
class PacedResult:
    offered_rate: float
    seconds: float
    sent: int
    completed: int
    errors: int
    send_offsets: list[float] = field(default_factory=list)  # when each send actually went out
    responses: list[tuple[float, int]] = field(default_factory=list)  # (time answered, position)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0  # from the first send to the last response
    not_sent: int = 0  # scheduled sends dropped because every lane was still busy at the window's end

    @property
    def achieved_rate(self) -> float:
        """Commands answered per second over the paced window (or until the last answer, when
        that is later)."""
        span = max(self.elapsed, self.seconds)
        return self.completed / span if span else 0.0


async def paced(
    target: str,
    lanes: Sequence[Iterator[Prepared]],
    *,
    rate: float,
    duration: float,
    tick: Callable[[float], None] | None = None,
) -> PacedResult:
    """Offer ``rate`` commands per second for ``duration`` seconds. Each send takes an idle
    lane (a batch with no command in flight); when every lane is busy the send waits for one,
    which is how an overloaded server shows up as an achieved rate below the offered one."""
    offsets = schedule(rate, duration)
    result = PacedResult(offered_rate=rate, seconds=duration, sent=0, completed=0, errors=0)
    idle: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(lanes)):
        idle.put_nowait(i)
    async with channel(target) as ch:
        stub = commands_pb2_grpc.CommandServiceStub(ch)
        start = time.perf_counter()
        inflight: set[asyncio.Task[None]] = set()

        async def run(lane: int, item: Prepared, sent_at: float) -> None:
            try:
                response = await getattr(stub, item.rpc)(item.request, metadata=METADATA, timeout=120)
            except grpc.aio.AioRpcError:
                result.errors += 1
            else:
                now = time.perf_counter()
                result.completed += 1
                result.latencies.append(now - sent_at)
                result.responses.append((now, response.position))
            finally:
                idle.put_nowait(lane)

        end = start + duration
        for k, offset in enumerate(offsets):
            delay = start + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:  # every lane busy: the send waits, but never past the paced window
                lane = await asyncio.wait_for(idle.get(), max(end - time.perf_counter(), 0.0))
            except TimeoutError:
                result.not_sent = len(offsets) - k
                break
            item = next(lanes[lane])
            sent_at = time.perf_counter()
            result.send_offsets.append(sent_at - start)
            result.sent += 1
            task = asyncio.create_task(run(lane, item, sent_at))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            if tick is not None and k % 50 == 0:
                tick(min(sent_at - start, duration))
        if inflight:
            await asyncio.gather(*inflight)
        last = max((t for t, _ in result.responses), default=start)
        result.elapsed = last - start
    return result


# ------------------------------------------------------------------------------ projections
@dataclass
class ProjectionWatch:
    """Polls GetProjectionStatus; ``observed`` holds (perf_counter time of the answer, the lowest
    position over the active projections, the log head)."""

    target: str
    interval: float = 0.005
    observed: list[tuple[float, int, int]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with channel(self.target) as ch:
            stub = queries_pb2_grpc.QueryServiceStub(ch)
            while not self._stop.is_set():
                response = await stub.GetProjectionStatus(queries_pb2.GetProjectionStatusRequest(), timeout=30)
                active = [p.position for p in response.projections if p.state == "active"]
                position = min(active) if active else 0
                self.observed.append((time.perf_counter(), position, response.head))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)

    def stop(self) -> None:
        self._stop.set()

    def positions(self) -> list[tuple[float, int]]:
        return [(t, p) for t, p, _ in self.observed]


async def projection_status(target: str) -> queries_pb2.GetProjectionStatusResponse:
    async with channel(target) as ch:
        stub = queries_pb2_grpc.QueryServiceStub(ch)
        response: queries_pb2.GetProjectionStatusResponse = await stub.GetProjectionStatus(
            queries_pb2.GetProjectionStatusRequest(), timeout=30)
        return response


async def wait_caught_up(target: str, position: int, timeout: float, interval: float = 0.05) -> float:
    """Poll until every active projection has reached ``position`` (what ``gpureg demo`` waits
    for: :func:`registry.demo.grpc_load.wait_for_projections`); returns the perf_counter time it
    was seen."""
    await wait_for_projections(target, position, interval=interval, timeout=timeout)
    return time.perf_counter()


# ------------------------------------------------------------------------------ streaming
@dataclass
class StreamResult:
    events: int
    seconds: float
    messages: int
    head: int


async def stream_all(target: str, max_events_per_message: int = 1000,
                     tick: Callable[[int], None] | None = None, compact_serials: bool = False) -> StreamResult:
    """Subscribe from position 0 and read until the first checkpoint at or past the head (serials
    as runs when ``compact_serials``)."""
    async with channel(target) as ch:
        stub = events_pb2_grpc.EventServiceStub(ch)
        head = (await projection_status(target)).head
        request = events_pb2.SubscribeEventsRequest(after_position=0, max_events_per_message=max_events_per_message)
        if compact_serials:
            request.compact_serials = True
        events = messages = 0
        t0 = time.perf_counter()
        call = stub.SubscribeEvents(request, timeout=600)
        async for message in call:
            messages += 1
            if message.HasField("events"):
                events += len(message.events.events)
                if tick is not None:
                    tick(events)
            elif message.checkpoint.position >= head:
                break
        seconds = time.perf_counter() - t0
        call.cancel()
    return StreamResult(events=events, seconds=seconds, messages=messages, head=head)
