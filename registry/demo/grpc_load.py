"""Loading a scenario through the gRPC API, as a partner's system would.

Steps of one batch go in order; different batches go concurrently (``concurrency`` calls in
flight), which is how several partners' systems would write at once. Every step carries a stable
``request_id``, so a load that was interrupted can simply be run again: steps already done are
answered from the registry's request records and write nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from registry.api.v1 import commands_pb2, commands_pb2_grpc
from registry.demo.scenario import DEMO_ACTOR, Scenario, Step
from registry.security.client import ClientCredentials

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED})


def rpc_name(method: str) -> str:
    """``register_gpu_model`` -> ``RegisterGpuModel``."""
    return "".join(part.capitalize() for part in method.split("_"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        if all(type(v) is str for v in value):  # serial lists: nothing to convert, item by item
            return list(value)
        return [_jsonable(v) for v in value]
    return value


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def to_request(step: Step) -> Message:
    """The step's payload as the RPC's request message (proto3 JSON mapping).

    Enum fields take the command's lower-case value: ``"stolen"`` -> ``LOSS_KIND_STOLEN``.
    Serial lists, and lists of records of plain strings and string lists ((serial, GPU UUID)
    pairs, an installation report's placements), are given to the message as they are, without
    the JSON mapping's work per value; ``tests/unit/test_demo_requests.py`` checks that the
    message is the same.
    """
    cls = getattr(commands_pb2, f"{rpc_name(step.method)}Request")
    direct: dict[str, list[Any]] = {}
    for f in cls.DESCRIPTOR.fields:
        value = step.payload.get(f.name)
        if type(value) is not list or not _is_repeated(f):
            continue
        if f.type == f.TYPE_STRING:
            if all(type(v) is str for v in value):  # serial lists: set at once, not value by value
                direct[f.name] = value
        elif f.message_type is not None and all(_flat(f.message_type, v) for v in value):
            direct[f.name] = value  # (serial, GPU UUID) pairs, placements: built directly
    payload = _jsonable({k: v for k, v in step.payload.items() if k not in direct})
    for f in cls.DESCRIPTOR.fields:
        value = payload.get(f.name)
        if f.enum_type is not None and isinstance(value, str):
            payload[f.name] = f"{_upper_snake(f.enum_type.name)}_{value.upper()}"
    message: Message = cls(**direct)
    json_format.ParseDict(payload, message)
    return message


_STRING_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def _string_fields(descriptor: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The names of a message type's plain string fields, and of its repeated string fields."""
    found = _STRING_FIELDS.get(descriptor.full_name)
    if found is None:
        strings = [f for f in descriptor.fields if f.type == f.TYPE_STRING]
        found = _STRING_FIELDS[descriptor.full_name] = (
            frozenset(f.name for f in strings if not _is_repeated(f)),
            frozenset(f.name for f in strings if _is_repeated(f)),
        )
    return found


def _flat(descriptor: Any, item: Any) -> bool:
    """Whether ``item`` is a dict of the message's string fields only (a plain one a ``str``, a
    repeated one a list of ``str``; no enum, no nesting), which the message's constructor takes
    as it is."""
    if type(item) is not dict:
        return False
    plain, repeated = _string_fields(descriptor)
    for k, v in item.items():
        if k in plain:
            if type(v) is not str:
                return False
        elif k not in repeated or type(v) is not list or not all(type(s) is str for s in v):
            return False
    return True


def _is_repeated(field: Any) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 5.29; ``label`` before
    return bool(repeated) if repeated is not None else bool(field.label == field.LABEL_REPEATED)


@dataclass
class LoadStats:
    steps: int = 0
    replayed: int = 0
    retries: int = 0
    seconds: float = 0.0
    last_position: int = 0
    latencies: list[float] = field(default_factory=list)


async def load_over_grpc(
    target: str,
    scenario: Scenario,
    *,
    concurrency: int = 16,
    actor: str = DEMO_ACTOR,
    progress: Callable[[int], None] | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
    window_days: float = 7.0,
    credentials: ClientCredentials | None = None,
) -> LoadStats:
    """Send every step of ``scenario`` to the server at ``target``; returns what happened.

    Steps go in business-time order, as partners' systems would report them: up to
    ``concurrency`` at once, a batch's steps one after another, and no step more than
    ``window_days`` of business time ahead of the earliest step still running. The log then
    follows business time closely, which the compliance projection's time-based rules (shipments
    not received, units not installed, evaluated against the log's time) rely on.
    """
    stats = LoadStats()
    options = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]
    started = time.perf_counter()
    credentials = credentials or ClientCredentials()
    async with credentials.aio_channel(target, options) as channel:
        stub = commands_pb2_grpc.CommandServiceStub(channel)  # type: ignore[no-untyped-call]
        # the actor header counts only in development mode; elsewhere the credential names the actor
        metadata = (("x-gpureg-actor", actor), *credentials.metadata)

        async def call(step: Step) -> None:
            request = to_request(step)
            method = getattr(stub, rpc_name(step.method))
            for attempt in range(8):
                t0 = time.perf_counter()
                try:
                    response = await method(request, metadata=metadata, timeout=120)
                except grpc.aio.AioRpcError as e:
                    if e.code() in RETRYABLE and attempt < 7:
                        stats.retries += 1
                        await asyncio.sleep(0.05 * (attempt + 1))
                        continue
                    raise DemoLoadError(step, e) from e
                stats.latencies.append(time.perf_counter() - t0)
                stats.steps += 1
                stats.replayed += int(response.replayed)
                stats.last_position = max(stats.last_position, response.position)
                if progress is not None:
                    progress(1)
                return

        for step in scenario.reference:
            await call(step)
        await _in_business_order(scenario.batches, call, concurrency, timedelta(days=window_days))
    stats.seconds = time.perf_counter() - started
    return stats


async def _in_business_order(
    steps: Sequence[Step], call: Callable[[Step], Awaitable[None]], concurrency: int, window: timedelta
) -> None:
    """Run ``steps`` (sorted by business time) with bounded concurrency and time window."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    changed = asyncio.Condition()
    running: list[datetime] = []  # business times of the steps started and not finished
    previous: dict[Any, asyncio.Event] = {}  # the last step started for each batch
    failures: list[BaseException] = []
    tasks: list[asyncio.Task[None]] = []

    async def run(step: Step, when: datetime, after: asyncio.Event | None, done: asyncio.Event) -> None:
        try:
            if after is not None:
                await after.wait()
            if not failures:
                await call(step)
        except BaseException as e:
            failures.append(e)
            raise
        finally:
            done.set()
            async with changed:
                running.remove(when)
                changed.notify_all()

    for step in steps:
        when = datetime.fromisoformat(str(step.payload["occurred_at"]))
        def may_start(when: datetime = when) -> bool:
            return bool(failures) or (
                len(running) < concurrency and (not running or when <= min(running) + window)
            )

        async with changed:
            await changed.wait_for(may_start)
            if failures:
                break
            running.append(when)
        group = step.group or step.payload.get("batch_id")
        done = asyncio.Event()
        tasks.append(asyncio.create_task(run(step, when, previous.get(group), done)))
        previous[group] = done
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]


async def wait_for_projections(
    target: str,
    position: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    interval: float = 0.25,
    timeout: float = 3600.0,
    credentials: ClientCredentials | None = None,
) -> float:
    """Poll ``GetProjectionStatus`` until every active projection has applied the log up to
    ``position``; returns the seconds waited. ``progress(lowest position, position)`` after each
    poll. Raises TimeoutError after ``timeout`` seconds."""
    from registry.api.v1 import queries_pb2, queries_pb2_grpc

    started = time.perf_counter()
    credentials = credentials or ClientCredentials()
    async with credentials.aio_channel(target) as channel:
        stub = queries_pb2_grpc.QueryServiceStub(channel)  # type: ignore[no-untyped-call]
        while True:
            status = await stub.GetProjectionStatus(queries_pb2.GetProjectionStatusRequest(), timeout=30,
                                                    metadata=credentials.metadata)
            active = [p.position for p in status.projections if p.state == "active"]
            lowest = min(active) if active else 0
            if progress is not None:
                progress(min(lowest, position), position)
            if active and lowest >= position:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"projections at {lowest} of {position} after {timeout:g} s")
            await asyncio.sleep(interval)


class DemoLoadError(Exception):
    """A step the server refused (the scenario and the registry disagree)."""

    def __init__(self, step: Step, error: grpc.aio.AioRpcError) -> None:
        self.step = step
        self.code = error.code()
        super().__init__(f"{step.method} ({step.label}) refused: {error.code().name}: {error.details()}")
