"""The per-call path of the gRPC server made cheaper without changing what it does: interceptor
handlers built once per method, the metrics' label children cached, the admission decision made
without a coroutine per call, the command lane settling its call from the worker thread (after
the fsync, when there is one) instead of through run_in_executor and a second await.

Each test compares with what the code did before (the old expression, or an oracle restating the
access matrix) on the same inputs."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import grpc
import pytest
from grpc._cython import cygrpc
from prometheus_client import CollectorRegistry

from registry.observability import access
from registry.observability.metrics import LATENCY_BUCKETS, Metrics
from registry.security.grants import current_grants
from registry.security.policy import MATRIX, rule_for
from registry.security.principal import PARTY_ROLES, Role
from registry.security.tokens import KeySet, TokenVerifier, generate_key, issue_token
from registry.server.actor import current_actor
from registry.server.auth import Authenticator, AuthInterceptor
from registry.server.concurrency import Blocking, CommandLane
from registry.server.decoding import RequestDecodingInterceptor


class Aborted(Exception):
    pass


class FakeContext:
    """What the interceptors read of a grpc.aio servicer context."""

    def __init__(self, metadata: tuple[tuple[str, str], ...] = (), code: Any = None) -> None:
        self.metadata = metadata
        self.auth_reads = 0
        self.status: grpc.Status | None = None
        self._code = code

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def auth_context(self) -> dict[str, Any]:
        self.auth_reads += 1
        return {"transport_security_type": [b"insecure"]}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:50000"

    def code(self) -> Any:
        return self._code

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status
        raise Aborted(status.code)


class Details:
    def __init__(self, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.method = method
        self.invocation_metadata = metadata


def _handler(fn: Callable[..., Any]) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=bytes, response_serializer=bytes)


async def _through(interceptor: Any, handler: grpc.RpcMethodHandler, details: Details) -> grpc.RpcMethodHandler:
    async def continuation(_: Any) -> grpc.RpcMethodHandler:
        return handler

    wrapped: grpc.RpcMethodHandler = await interceptor.intercept_service(continuation, details)
    return wrapped


# ---------------------------------------------------------------------- handlers built once
@pytest.mark.parametrize("make", [
    lambda: access.ObservingInterceptor(Metrics(), access_log=False),
    RequestDecodingInterceptor,
    lambda: AuthInterceptor(Authenticator(development=True), None, None),  # type: ignore[arg-type]
])
def test_each_interceptor_wraps_a_methods_handler_once_and_again_when_the_handler_changes(make: Any) -> None:
    interceptor = make()

    async def serve(request: Any, context: Any) -> Any:
        return request

    async def other(request: Any, context: Any) -> Any:
        return request

    first, second = _handler(serve), _handler(other)
    method = "/registry.api.v1.CommandService/PlaceOrder"

    async def run() -> None:
        a = await _through(interceptor, first, Details(method))
        assert a is not first
        assert await _through(interceptor, first, Details(method)) is a  # the same call path, not rebuilt
        b = await _through(interceptor, second, Details(method))  # another inner handler (a traced one)
        assert b is not a
        assert await _through(interceptor, second, Details(method)) is b
        c = await _through(interceptor, first, Details("/registry.api.v1.CommandService/Ship"))
        assert c is not a

    asyncio.run(run())


# ---------------------------------------------------------------------- metrics
def test_every_status_number_maps_to_the_code_the_old_search_found() -> None:
    for number in [*range(-1, 20), 99]:
        old = next((c for c in grpc.StatusCode if c.value[0] == number), grpc.StatusCode.UNKNOWN)
        assert access._code_of(FakeContext(code=number), None) is old
    for code in cygrpc.StatusCode:  # what grpc.aio's context.code() answers with
        old = next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
        assert access._code_of(FakeContext(code=code), None) is old
        assert old is not grpc.StatusCode.UNKNOWN or int(code) == 2


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples if not s.name.endswith("_created")}


def test_the_metrics_of_calls_are_those_labels_per_call_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    """The interceptor, with its cached label children, against the same calls recorded the old
    way (``labels(...)`` per call) on another registry: every sample equal, buckets included."""
    metrics, expected = Metrics(), Metrics()
    interceptor = access.ObservingInterceptor(metrics, access_log=False)
    durations = [0.0005, 0.003, 0.02, 0.3, 2.0, 40.0]
    clock = iter(t for n in range(1000) for t in (float(n), n + durations[n % len(durations)]))
    monkeypatch.setattr(access, "time", SimpleNamespace(perf_counter=lambda: next(clock)))

    async def serve(request: Any, context: Any) -> Any:
        if request == b"fail":
            raise RuntimeError("boom")
        return request

    handlers = {"/a.S/One": _handler(serve), "/a.S/Two": _handler(serve)}
    calls = [("/a.S/One", b"ok", cygrpc.StatusCode.ok), ("/a.S/One", b"ok", cygrpc.StatusCode.not_found),
             ("/a.S/Two", b"ok", cygrpc.StatusCode.ok), ("/a.S/Two", b"fail", None),
             ("/a.S/One", b"ok", cygrpc.StatusCode.ok), ("/a.S/Two", b"ok", cygrpc.StatusCode.aborted)] * 7

    async def run() -> None:
        for n, (method, request, code) in enumerate(calls):
            wrapped = await _through(interceptor, handlers[method], Details(method))
            context = FakeContext(code=code)
            error: BaseException | None = None
            try:
                await wrapped.unary_unary(request, context)
            except RuntimeError as e:
                error = e
            name = access._code_of(context, error).name
            expected.rpcs.labels(method, name).inc()
            expected.rpc_seconds.labels(method).observe((n + durations[n % len(durations)]) - float(n))

    asyncio.run(run())
    got, want = _samples(metrics.registry), _samples(expected.registry)
    assert got == want
    assert got[("gpureg_rpc_requests_total", (("code", "OK"), ("method", "/a.S/One")))] == 14
    assert got[("gpureg_rpc_requests_total", (("code", "UNKNOWN"), ("method", "/a.S/Two")))] == 7
    assert got[("gpureg_rpc_duration_seconds_count", (("method", "/a.S/Two"),))] == 21
    assert len(LATENCY_BUCKETS) + 1 == sum(1 for name, labels in got
                                           if name == "gpureg_rpc_duration_seconds_bucket"
                                           and ("method", "/a.S/One") in labels)


# ---------------------------------------------------------------------- admission
ROLES = list(Role)
METHODS = [*sorted(MATRIX), "registry.api.v1.CommandService/NoSuchMethod"]


def _oracle(method: str, role: Role | None, credential: str) -> tuple[str, str] | None:
    """The matrix, restated: None when admitted, else (status code, reason)."""
    rule = rule_for("/" + method)
    if credential == "bad":
        return None if rule is not None and rule.public else ("UNAUTHENTICATED", "BAD_CREDENTIAL")
    if role is None:
        return None if rule is not None and rule.public else ("UNAUTHENTICATED", "NO_CREDENTIAL")
    if rule is None:
        return "PERMISSION_DENIED", "NOT_IN_MATRIX"
    if rule.public or role in rule.roles:
        return None
    return "PERMISSION_DENIED", "ROLE_NOT_ALLOWED"


def test_every_role_on_every_method_is_admitted_or_refused_as_the_matrix_says(tmp_path: Path) -> None:
    """Every role x method (and no credential, a bad one), each method's cached handler serving the
    principals in turn: a call is decided by its own metadata, never by the previous call's."""
    private, _ = generate_key(tmp_path / "keys", "k1")
    party = str(uuid4())
    tokens = {r: issue_token(private, subject=f"who-{r.value}", role=r.value,
                             party=party if r in PARTY_ROLES else None)[0] for r in ROLES}
    interceptor = AuthInterceptor(
        Authenticator(development=False, tokens=TokenVerifier(KeySet(tmp_path / "keys"), None)),
        None, None, certificates=False)  # type: ignore[arg-type]
    confined: list[tuple[str, Role]] = []

    async def no_scope(principal: Any, rule: Any, request: Any) -> None:
        confined.append((calling[0], principal.role))

    interceptor._confine_request = no_scope  # type: ignore[method-assign]
    seen: list[tuple[str, str, str]] = []

    async def serve(request: Any, context: Any) -> Any:
        grants = current_grants()
        assert grants.visible is None
        seen.append((calling[0], current_actor(), request))
        return request

    handler = _handler(serve)
    callers: list[tuple[Role | None, str]] = [(r, "token") for r in ROLES] + [(None, "none"), (None, "bad")]
    outcomes = 0

    calling = [""]

    async def run(method: str) -> None:
        nonlocal outcomes
        calling[0] = method
        for role, credential in callers * 2:
            metadata: tuple[tuple[str, str], ...] = ()
            if credential == "token":
                assert role is not None
                metadata = (("authorization", f"Bearer {tokens[role]}"),)
            elif credential == "bad":
                metadata = (("authorization", "Bearer not-a-jwt"),)
            wrapped = await _through(interceptor, handler, Details("/" + method, metadata))
            context = FakeContext(metadata)
            before = sum(interceptor.denials.values())
            expected = _oracle(method, role, credential)
            try:
                await wrapped.unary_unary(f"{role}-{credential}", context)
            except Aborted:
                assert expected is not None, (method, role, credential)
                assert context.status is not None and context.status.code.name == expected[0]
                assert sum(interceptor.denials.values()) == before + 1
                assert interceptor.denials[expected] > 0
            else:
                assert expected is None, (method, role, credential)
                actor = f"who-{role.value}" if role is not None else "anonymous"
                assert seen[-1] == (method, actor, f"{role}-{credential}")
            assert context.auth_reads == 0  # a plaintext server reads no client certificate
            outcomes += 1

    for method in METHODS:
        asyncio.run(run(method))
    assert outcomes == len(METHODS) * len(callers) * 2
    # scoping was asked for exactly where the old path would have computed a scope
    want = sorted((m, r) for m in METHODS for r in ROLES * 2
                  if r in PARTY_ROLES and _oracle(m, r, "token") is None
                  and (rule := rule_for("/" + m)) is not None and rule.confine.value != "none")
    assert sorted(confined) == want


def test_a_server_with_tls_reads_the_client_certificate_of_every_call() -> None:
    interceptor = AuthInterceptor(Authenticator(development=True), None, None)  # type: ignore[arg-type]

    async def serve(request: Any, context: Any) -> Any:
        return current_actor()

    async def run() -> None:
        wrapped = await _through(interceptor, _handler(serve), Details("/registry.api.v1.QueryService/GetBatch"))
        for n in range(3):
            context = FakeContext((("x-gpureg-actor", f"dev-{n}"),))
            assert await wrapped.unary_unary(b"", context) == f"dev-{n}"  # each call's own header
            assert context.auth_reads == 1

    asyncio.run(run())


# ---------------------------------------------------------------------- the command lane
class HeldSync:
    """A durability whose fsync the test completes: records when and where it was asked."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.waiting: list[Callable[[BaseException | None], None]] = []
        self.threads: list[str] = []
        self.error = error
        self.asked = threading.Event()

    def request(self, done: Callable[[BaseException | None], None]) -> None:
        self.threads.append(threading.current_thread().name)
        self.waiting.append(done)
        self.asked.set()

    def release(self) -> None:
        for done in self.waiting:
            done(self.error)
        self.waiting.clear()


variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")


def test_a_command_is_answered_only_after_the_fsync_it_asked_for_on_its_own_thread() -> None:
    sync = HeldSync()
    lane = CommandLane(1, sync)
    order: list[str] = []

    def command(x: int) -> int:
        order.append(f"ran {variable.get()}")
        return x * 2

    async def run() -> None:
        variable.set("rpc")
        call = asyncio.ensure_future(lane(command, 21))
        await asyncio.get_running_loop().run_in_executor(None, sync.asked.wait, 10)
        await asyncio.sleep(0.01)
        assert not call.done()  # committed, not yet on disk: no answer
        sync.release()
        assert await call == 42

    try:
        asyncio.run(run())
    finally:
        lane.shutdown()
    assert order == ["ran rpc"]  # in the RPC's context
    assert sync.threads == ["gpureg-command_0"]  # the lane's thread asked, after the command returned


def test_a_failed_fsync_is_raised_and_a_failed_command_asks_for_none() -> None:
    sync = HeldSync(OSError("disk gone"))
    lane = CommandLane(1, sync)

    def refuse() -> None:
        raise ValueError("refused")

    async def run() -> None:
        with pytest.raises(ValueError, match="refused"):
            await lane(refuse)
        assert sync.waiting == []
        call = asyncio.ensure_future(lane(lambda: 1))
        await asyncio.get_running_loop().run_in_executor(None, sync.asked.wait, 10)
        sync.release()
        with pytest.raises(OSError, match="disk gone"):
            await call

    try:
        asyncio.run(run())
    finally:
        lane.shutdown()


def test_blocking_answers_results_and_errors_and_a_cancelled_call_not_started_never_runs() -> None:
    pool = Blocking(1)
    gate = threading.Event()
    ran: list[str] = []

    def hold() -> str:
        gate.wait(10)
        ran.append("hold")
        return "held"

    def later() -> str:
        ran.append("later")
        return "later"

    async def run() -> None:
        assert await pool(lambda a, b=0: a + b, 1, b=2) == 3
        with pytest.raises(KeyError):
            await pool({}.__getitem__, "x")
        first = asyncio.ensure_future(pool(hold))
        second = asyncio.ensure_future(pool(later))
        await asyncio.sleep(0.01)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second  # the cancellation reached the lane before the first call ended
        gate.set()
        assert await first == "held"
        await pool(lambda: None)  # the one thread is free again: nothing else queued ran before

    try:
        asyncio.run(run())
    finally:
        pool.shutdown()
    assert ran == ["hold"]
