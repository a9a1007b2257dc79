"""Server reflection that also describes the error details a refusal carries.

Refusals carry ``google.rpc.ErrorInfo``, ``BadRequest``, ``PreconditionFailure`` and
``ResourceInfo`` inside ``google.protobuf.Any`` (registry/server/errors.py). A client that resolves
an Any through reflection finds its type only when the type's file comes with the files of the
service it called, and no field of the API names these types. (``buf curl`` is not such a client:
it prints error details through connect-go, which decodes an Any only with the types compiled into
buf, so they stay base64 there whatever reflection serves; the README's "Status codes" shows how
to decode one with ``buf convert``.) The reflection service here answers from a descriptor pool in which each served
service's file also lists ``google/rpc/error_details.proto`` among its dependencies: the same
files, plus that edge. The .proto contract is unchanged (an unused import would fail buf lint).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import reflection

DETAIL_FILE: FileDescriptor = error_details_pb2.DESCRIPTOR


def reflection_pool(service_names: tuple[str, ...]) -> descriptor_pool.DescriptorPool:
    """A pool with the files of ``service_names`` (and their dependencies), each service file
    depending on the error details file too."""
    default = descriptor_pool.Default()
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: FileDescriptor, extra: tuple[FileDescriptor, ...] = ()) -> None:
        if file.name in added:
            return
        for dependency in (*file.dependencies, *extra):
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb)
        for dependency in extra:
            if dependency.name not in proto.dependency:
                proto.dependency.append(dependency.name)
        pool.Add(proto)
        added.add(file.name)

    for name in service_names:
        add(default.FindServiceByName(name).file, (DETAIL_FILE,))
    return pool


def enable_reflection(service_names: tuple[str, ...], server: Any) -> None:
    """Serve grpc.reflection.v1alpha for ``service_names`` (and itself) from :func:`reflection_pool`."""
    names = (*service_names, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server, pool=reflection_pool(names))
