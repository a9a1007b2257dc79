"""The whole role x method matrix, driven through a real server: every RPC in the proto
descriptors, called by every role (and by nobody), is allowed, UNAUTHENTICATED or
PERMISSION_DENIED exactly as registry/security/policy.py says."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from registry.api.v1 import (
    commands_pb2,
    compliance_pb2,
    epcis_pb2,
    events_pb2,
    journal_pb2,
    locations_pb2,
    queries_pb2,
    reports_pb2,
)
from registry.security.policy import MATRIX
from registry.security.principal import PARTY_ROLES, Role
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials, bearer

FILES = (commands_pb2, queries_pb2, events_pb2, compliance_pb2, reports_pb2, journal_pb2, epcis_pb2, locations_pb2,
         health_pb2,
         reflection_pb2)
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def all_methods() -> list[MethodDescriptor]:
    return [m for f in FILES for s in f.DESCRIPTOR.services_by_name.values() for m in s.methods]


def call(channel: grpc.Channel, method: MethodDescriptor, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    """Call ``method`` with an empty request; the status it ended with (OK for a first message)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    request_class = GetMessageClass(method.input_type)
    response_class = GetMessageClass(method.output_type)
    try:
        if method.client_streaming:
            stream = channel.stream_stream(path, request_serializer=request_class.SerializeToString,
                                           response_deserializer=response_class.FromString)
            replies = stream(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                             metadata=metadata, timeout=10)
            next(replies)
        elif method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=request_class.SerializeToString,
                                          response_deserializer=response_class.FromString)
            replies = stream(request_class(), metadata=metadata, timeout=10)
            next(replies)
            replies.cancel()
        else:
            channel.unary_unary(path, request_serializer=request_class.SerializeToString,
                                response_deserializer=response_class.FromString)(
                request_class(), metadata=metadata, timeout=10)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_every_rpc_in_the_proto_descriptors_has_a_row_in_the_matrix() -> None:
    names = {f"{m.containing_service.full_name}/{m.name}" for m in all_methods()}
    assert names - set(MATRIX) == set(), "methods without a row"
    assert set(MATRIX) - names == set(), "rows without a method"


def test_every_method_by_every_role_is_allowed_or_refused_as_the_matrix_says(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, **creds.settings())
    channel = server.channel()
    callers: dict[str, list[tuple[str, str]]] = {"(no credential)": []}
    for role in Role:
        party = str(uuid.uuid4()) if role in PARTY_ROLES else None
        callers[role.value] = creds.md(role.value, party)
    wrong: list[str] = []
    checked = 0
    for method in all_methods():
        rule = MATRIX[f"{method.containing_service.full_name}/{method.name}"]
        for who, metadata in callers.items():
            code = call(channel, method, metadata)
            if who == "(no credential)":
                expected: Any = "allowed" if rule.public else grpc.StatusCode.UNAUTHENTICATED
            else:
                expected = "allowed" if Role(who) in rule.roles else grpc.StatusCode.PERMISSION_DENIED
            got: Any = "allowed" if code not in REFUSED else code
            checked += 1
            if got != expected or code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                wrong.append(f"{method.full_name} as {who}: expected {expected}, got {code}")
    assert wrong == []
    assert checked == len(all_methods()) * len(callers)
    # every refusal was counted, by its code
    denials = server.server.auth.denials  # type: ignore[union-attr]
    refused = sum(1 for m in all_methods() for who in callers
                  if (who == "(no credential)" and not MATRIX[f"{m.containing_service.full_name}/{m.name}"].public)
                  or (who != "(no credential)" and Role(who) not in MATRIX[f"{m.containing_service.full_name}/{m.name}"].roles))
    assert sum(denials.values()) == refused


def test_a_garbage_bearer_token_is_unauthenticated_even_for_a_method_everyone_may_call(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, **creds.settings())
    stub = server.stubs()
    with pytest.raises(grpc.RpcError) as refused:
        stub.queries.GetProjectionStatus(queries_pb2.GetProjectionStatusRequest(), metadata=bearer("not-a-jwt"))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "not a JWT" in (refused.value.details() or "")
