"""Requests for every RPC, generated from the proto descriptors (no request is written by hand).

:func:`methods` lists every method a server offers (the registry's services, health, reflection)
from their descriptors; :func:`request_bytes` is a hypothesis strategy for one method's request
*bytes*: empty, random, boundary and undecodable. :class:`Fuzzer` sends one request on a real
channel and checks the invariants:

* the status is never INTERNAL or UNKNOWN;
* no message carries exception text or a traceback;
* a refused request writes nothing (the log head is unchanged).

Boundary values, by field type: integers at 0, +-1, +-2^31, +-2^63 (clamped to the type); doubles
NaN, +-inf, +-0, the extremes; Timestamps at year 1 and year 9999 and beyond them, with invalid
nanos; Durations out of range; strings empty, of control characters, of 100,000 characters, or
shaped as ids; enums at unknown values; repeated fields of 20,000 elements; Structs holding NaN.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import descriptor_pool, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from hypothesis import strategies as st

from registry.api.v1 import commands_pb2, compliance_pb2, events_pb2, queries_pb2, reports_pb2

SERVICES = (
    commands_pb2.DESCRIPTOR.services_by_name["CommandService"],
    queries_pb2.DESCRIPTOR.services_by_name["QueryService"],
    events_pb2.DESCRIPTOR.services_by_name["EventService"],
    compliance_pb2.DESCRIPTOR.services_by_name["ComplianceService"],
    reports_pb2.DESCRIPTOR.services_by_name["ReportService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
)
FORBIDDEN_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
# Exception text: a traceback, a file/line reference, or a Python exception class name.
LEAK = re.compile(r"Traceback|File \"|line \d+, in |\b[A-Z][A-Za-z]*(Error|Exception)\b(?!\w)|<class '")
BIG_REPEAT = 20_000
MAX_REPEATED_BYTES = 2_000_000  # a 20,000-element list of 100,000-character strings would be 2 GB
LONG_TEXT = 100_000

INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
YEAR_1 = -62_135_596_800  # 0001-01-01T00:00:00Z
YEAR_9999_END = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class Method:
    """One RPC: its path, descriptor and shape."""

    path: str
    descriptor: MethodDescriptor

    @property
    def request_streaming(self) -> bool:
        return bool(self.descriptor.client_streaming)

    @property
    def response_streaming(self) -> bool:
        return bool(self.descriptor.server_streaming)

    @property
    def is_command(self) -> bool:
        return "request_id" in self.descriptor.input_type.fields_by_name


def methods() -> list[Method]:
    return [Method(f"/{service.full_name}/{m.name}", m) for service in SERVICES for m in service.methods]


def message_class(descriptor: Descriptor) -> type[Message]:
    return GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(descriptor.full_name))


# ------------------------------------------------------------------------------ strategies
def _ints(fd: FieldDescriptor) -> st.SearchStrategy[int]:
    low, high = INT_RANGES[fd.type]
    edges = sorted({v for v in (0, 1, -1, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63), 2**64 - 1, low, high)
                    if low <= v <= high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers(-5, 20_000).filter(
        lambda v: low <= v <= high))


def rarely(rare: st.SearchStrategy[Any], usual: st.SearchStrategy[Any], one_in: int = 40) -> st.SearchStrategy[Any]:
    """``rare`` about once in ``one_in`` draws, else ``usual`` (huge values are slow to send)."""
    return st.integers(0, one_in - 1).flatmap(lambda i: rare if i == 0 else usual)


FLOAT_EDGES = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 2.0**63, -(2.0**63)]
STRING_EDGES = ["", " ", "\x00", "\x00\x01\x02\x1b[31m\x7f", "\n\r\t", "\u202e\ufeff",
                "00000000-0000-0000-0000-000000000000", "0b6c1b9e-8a0f-4c1e-9f61-2a5d1f0c9e3a",
                "not-a-uuid", "KR", "USD", "3A090.a", "-1", "NaN", "Infinity", "1e999", "9" * 40,
                "2026-12-31T23:59:59Z", "'; DROP TABLE x; --", "%s%n%x", "../../etc/passwd",
                "ordered", "assigned", "GpuBatch.Shipped", "RequestRecord.Handled", "eyJhIjogMX0="]


def _strings() -> st.SearchStrategy[str]:
    usual = st.one_of(st.sampled_from(STRING_EDGES), st.text(max_size=40),
                      st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "So"]),
                              max_size=20))
    return rarely(st.sampled_from(["x" * LONG_TEXT, "\x00" * LONG_TEXT, "é" * LONG_TEXT]), usual)


def _scalar(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.type in INT_RANGES:
        return _ints(fd)
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(allow_nan=True, allow_infinity=True,
                                                                  width=32 if fd.type == FieldDescriptor.TYPE_FLOAT
                                                                  else 64))
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _strings()
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.just(b"\xff" * 1000), st.just(b"name\n\xff\xfe,x\n"))
    if fd.type == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in fd.enum_type.values]
        return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1, -(2**31)]))
    raise AssertionError(f"no strategy for field type {fd.type}")


def _timestamp(cls: type[Message]) -> st.SearchStrategy[Message]:
    seconds = st.one_of(st.sampled_from([0, YEAR_1, YEAR_1 - 1, YEAR_9999_END, YEAR_9999_END + 1, -(2**63),
                                         2**63 - 1, 1_798_761_599, 1_767_225_600]),
                        st.integers(YEAR_1 - 10, YEAR_9999_END + 10))
    nanos = st.one_of(st.just(0), st.sampled_from([-1, 999_999_999, 1_000_000_000, 2**31 - 1, -(2**31)]),
                      st.integers(0, 999_999_999))
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


def _json_values(depth: int) -> st.SearchStrategy[struct_pb2.Value]:
    leaves = st.one_of(
        st.builds(lambda f: struct_pb2.Value(number_value=f), st.one_of(st.sampled_from(FLOAT_EDGES), st.floats())),
        st.builds(lambda s: struct_pb2.Value(string_value=s), _strings()),
        st.builds(lambda b: struct_pb2.Value(bool_value=b), st.booleans()),
        st.just(struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)),
        st.just(struct_pb2.Value()),
    )
    if depth <= 0:
        return leaves

    def nested(children: dict[str, struct_pb2.Value]) -> struct_pb2.Value:
        value = struct_pb2.Value()
        for k, v in children.items():
            value.struct_value.fields[k].CopyFrom(v)
        return value

    return st.one_of(leaves, st.builds(nested, st.dictionaries(_strings(), _json_values(depth - 1), max_size=3)))


def _struct(cls: type[Message]) -> st.SearchStrategy[Message]:
    def build(fields: dict[str, struct_pb2.Value]) -> Message:
        message = cls()
        for k, v in fields.items():
            message.fields[k].CopyFrom(v)  # type: ignore[attr-defined]
        return message

    return st.builds(build, st.dictionaries(_strings(), _json_values(2), max_size=4))


def _message(descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
    cls = message_class(descriptor)
    name = descriptor.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return _timestamp(cls)
    if name == "google.protobuf.Struct":
        return _struct(cls)
    if name == "google.protobuf.Value":
        return _json_values(2)
    if depth <= 0:
        return st.just(cls())
    fields = {fd.name: _field(fd, depth - 1) for fd in descriptor.fields}

    def build(values: dict[str, Any]) -> Message:
        message = cls()
        for fd_name, setter in values.items():
            setter(message, fd_name)
        return message

    # each field is present or not; a oneof takes the last one set (protobuf's own rule)
    return st.builds(build, st.fixed_dictionaries({}, optional=fields))


def _field(fd: FieldDescriptor, depth: int) -> st.SearchStrategy[Callable[[Message, str], None]]:
    is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
    if is_map:
        key_fd = fd.message_type.fields_by_name["key"]
        value_fd = fd.message_type.fields_by_name["value"]
        values = _message(value_fd.message_type, depth) if value_fd.message_type else _scalar(value_fd)

        def set_map(entries: dict[Any, Any]) -> Callable[[Message, str], None]:
            def apply(message: Message, name: str) -> None:
                target = getattr(message, name)
                for k, v in entries.items():
                    if value_fd.message_type:
                        target[k].CopyFrom(v)
                    else:
                        target[k] = v
            return apply

        return st.builds(set_map, st.dictionaries(_scalar(key_fd), values, max_size=4))
    single = _message(fd.message_type, depth) if fd.message_type else _scalar(fd)
    if fd.is_repeated:
        def set_list(items: list[Any]) -> Callable[[Message, str], None]:
            def apply(message: Message, name: str) -> None:
                target = getattr(message, name)
                if len(items) > 3:  # a long list of one element: at most ~2 MB, whatever the element
                    one = items[0]
                    size = one.ByteSize() if isinstance(one, Message) else len(one) if isinstance(
                        one, str | bytes) else 8
                    items[:] = items[:max(1, min(len(items), MAX_REPEATED_BYTES // max(size, 1)))]
                if fd.message_type:
                    for item in items:
                        target.add().CopyFrom(item)
                else:
                    target.extend(items)
            return apply

        big = st.builds(lambda one: [one] * BIG_REPEAT, single)
        return st.builds(set_list, rarely(big, st.lists(single, max_size=3)))

    def set_one(value: Any) -> Callable[[Message, str], None]:
        def apply(message: Message, name: str) -> None:
            if fd.message_type:
                getattr(message, name).CopyFrom(value)
            else:
                setattr(message, name, value)
        return apply

    return st.builds(set_one, single)


def request_messages(method: Method) -> st.SearchStrategy[Message]:
    """Well-formed request messages with random and boundary field values (and the empty one)."""
    cls = message_class(method.descriptor.input_type)
    return st.one_of(st.just(cls()), _message(method.descriptor.input_type, depth=3))


UNDECODABLE = [b"\xff", b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\x0f", b"\x08", b"\x12\x05ab", b"\x80" * 11,
               b"\x0b", b"\x0f\x00"]


def request_bytes(method: Method) -> st.SearchStrategy[tuple[str, bytes]]:
    """(kind, serialized request): empty, generated (random and boundary), random bytes, undecodable."""
    return st.one_of(
        st.just(("empty", b"")),
        st.builds(lambda m: ("generated", m.SerializeToString()), request_messages(method)),
        st.builds(lambda b: ("random bytes", b), st.binary(max_size=200)),
        st.builds(lambda b: ("undecodable", b), st.sampled_from(UNDECODABLE)),
    )


# ------------------------------------------------------------------------------ sending
@dataclass
class Figures:
    """What a run saw: requests per method and kind, status codes per method, invariant breaks."""

    requests: Counter[str] = field(default_factory=Counter)
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kinds: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()), "seconds": round(self.seconds, 1),
            "kinds": dict(self.kinds),
            "methods": {m: {"requests": self.requests[m], "codes": dict(sorted(self.codes[m].items()))}
                        for m in sorted(self.requests)},
            "violations": self.violations[:100], "violation_count": len(self.violations),
        }


class Fuzzer:
    """Sends generated requests to a server and checks each answer against the invariants."""

    def __init__(self, channel: grpc.Channel, head: Callable[[], int], figures: Figures | None = None,
                 stream_seconds: float = 0.5, query_seconds: float = 1.0) -> None:
        self.channel = channel
        self.head = head
        self.figures = figures or Figures()
        self.stream_seconds = stream_seconds
        self.query_seconds = query_seconds

    def send(self, method: Method, kind: str, payload: bytes) -> tuple[grpc.StatusCode, str]:
        """Send one request; return (code, details). Streams are read for up to stream_seconds."""
        # A command may legitimately take seconds (20,000 serials); it must finish before the head is
        # read again. A query that waits for a read model (min_position far ahead) waits for the deadline.
        timeout = 60.0 if method.is_command else self.query_seconds
        try:
            if method.request_streaming:
                call = self.channel.stream_stream(method.path, request_serializer=None, response_deserializer=None)
                responses = call(iter([payload]), timeout=timeout)
                for _ in responses:
                    pass
            elif method.response_streaming:  # read for stream_seconds: live streams never end by themselves
                call = self.channel.unary_stream(method.path, request_serializer=None, response_deserializer=None)
                for _ in call(payload, timeout=self.stream_seconds):
                    pass
            else:
                call = self.channel.unary_unary(method.path, request_serializer=None, response_deserializer=None)
                call(payload, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.DEADLINE_EXCEEDED and method.response_streaming:
                return grpc.StatusCode.OK, "streaming when the client stopped reading"
            return code, error.details() or ""  # type: ignore[attr-defined]
        return grpc.StatusCode.OK, ""

    def check(self, method: Method, kind: str, payload: bytes) -> grpc.StatusCode:
        before = self.head()
        code, details = self.send(method, kind, payload)
        after = self.head()
        f = self.figures
        f.requests[method.path] += 1
        f.kinds[kind] += 1
        f.codes[method.path][code.name] += 1
        where = f"{method.path} ({kind}, {len(payload)} bytes)"
        if code in FORBIDDEN_CODES:
            f.violations.append(f"{where}: {code.name}: {details[:300]}")
        if LEAK.search(details):
            f.violations.append(f"{where}: exception text in the message: {details[:300]}")
        if code != grpc.StatusCode.OK and after != before:
            f.violations.append(f"{where}: refused with {code.name} but the log head moved {before} -> {after}")
        if code == grpc.StatusCode.OK and after != before and not method.is_command:
            f.violations.append(f"{where}: a query wrote to the log ({before} -> {after})")
        return code
