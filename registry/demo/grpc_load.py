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
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from registry.api.v1 import commands_pb2, commands_pb2_grpc
from registry.demo.scenario import DEMO_ACTOR, Scenario, Step

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
        return [_jsonable(v) for v in value]
    return value


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def to_request(step: Step) -> Message:
    """The step's payload as the RPC's request message (proto3 JSON mapping).

    Enum fields take the command's lower-case value: ``"stolen"`` -> ``LOSS_KIND_STOLEN``.
    """
    cls = getattr(commands_pb2, f"{rpc_name(step.method)}Request")
    message: Message = cls()
    payload = _jsonable(step.payload)
    for f in message.DESCRIPTOR.fields:
        if f.enum_type is not None and isinstance(payload.get(f.name), str):
            payload[f.name] = f"{_upper_snake(f.enum_type.name)}_{payload[f.name].upper()}"
    json_format.ParseDict(payload, message)
    return message


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
) -> LoadStats:
    """Send every step of ``scenario`` to the server at ``target``; returns what happened."""
    stats = LoadStats()
    options = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]
    started = time.perf_counter()
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = commands_pb2_grpc.CommandServiceStub(channel)  # type: ignore[no-untyped-call]
        metadata = (("x-gpureg-actor", actor),)

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
        by_batch: dict[Any, list[Step]] = defaultdict(list)
        for step in scenario.batches:
            by_batch[step.group or step.payload.get("batch_id")].append(step)
        gate = asyncio.Semaphore(concurrency)

        async def run_batch(steps: Sequence[Step]) -> None:
            async with gate:
                for step in steps:
                    await call(step)

        await asyncio.gather(*(run_batch(steps) for steps in by_batch.values()))
    stats.seconds = time.perf_counter() - started
    return stats


class DemoLoadError(Exception):
    """A step the server refused (the scenario and the registry disagree)."""

    def __init__(self, step: Step, error: grpc.aio.AioRpcError) -> None:
        self.step = step
        self.code = error.code()
        super().__init__(f"{step.method} ({step.label}) refused: {error.code().name}: {error.details()}")
