"""The one table that says how each registry error looks on the wire.

Every refusal becomes a gRPC status with a rich ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer (read it with ``grpc_status.rpc_status.from_call``):

================================  ======================  ==========================================
registry error                    status code             details
================================  ======================  ==========================================
InvalidField                      INVALID_ARGUMENT        BadRequest: one violation per field
IdempotencyKeyReused              INVALID_ARGUMENT        BadRequest on ``request_id``
IllegalTransition                 FAILED_PRECONDITION     PreconditionFailure (type STATE); the
                                                          message names the current state
SerialAlreadyRegistered           FAILED_PRECONDITION     PreconditionFailure (type INVARIANT)
InvariantViolation                FAILED_PRECONDITION     PreconditionFailure (type INVARIANT)
ComplianceRefusal                 FAILED_PRECONDITION     PreconditionFailure (type COMPLIANCE);
                                                          ErrorInfo metadata ``citation`` and
                                                          ``fact.<name>`` per deciding fact
ConcurrencyConflict               ABORTED                 expected and current version
NotFound                          NOT_FOUND               ResourceInfo
AlreadyExists                     ALREADY_EXISTS          ResourceInfo
ReadModelBehind                   DEADLINE_EXCEEDED       the positions the read models reached
ReadModelRebuilding               UNAVAILABLE             the projection, the version in use and
                                                          the version this server reads
JournalBroken                     FAILED_PRECONDITION     the journal check failed: read-only
================================  ======================  ==========================================

Every status also carries ``google.rpc.ErrorInfo`` with domain ``gpureg`` and the reason in the
table below, so clients branch on ``reason`` rather than on message text.

A reused ``request_id`` is INVALID_ARGUMENT rather than ALREADY_EXISTS: the caller sent a
different request under a key it already used, retrying cannot succeed, and the fix is in the
request (a new ``request_id``), which is what INVALID_ARGUMENT with a field violation says.
ALREADY_EXISTS stays reserved for "the thing you are creating exists".

Anything that is not a :class:`RegistryError` is a bug: it becomes INTERNAL with a reference
that is also logged, never the exception text.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidField,
    InvariantViolation,
    NotFound,
    ReadModelBehind,
    ReadModelRebuilding,
    RegistryError,
    SerialAlreadyRegistered,
)
from registry.journal.errors import JournalBroken

log = logging.getLogger("gpureg.server")

ERROR_DOMAIN = "gpureg"


@dataclass(frozen=True)
class ErrorMapping:
    """How one registry error type is reported."""

    error: type[RegistryError]
    code: grpc.StatusCode
    reason: str


# Checked in order: subclasses before their bases.
ERROR_TABLE: tuple[ErrorMapping, ...] = (
    ErrorMapping(InvalidField, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
    ErrorMapping(IdempotencyKeyReused, grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED"),
    ErrorMapping(IllegalTransition, grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_TRANSITION"),
    ErrorMapping(SerialAlreadyRegistered, grpc.StatusCode.FAILED_PRECONDITION, "SERIAL_ALREADY_REGISTERED"),
    ErrorMapping(InvariantViolation, grpc.StatusCode.FAILED_PRECONDITION, "INVARIANT_VIOLATION"),
    ErrorMapping(ComplianceRefusal, grpc.StatusCode.FAILED_PRECONDITION, "COMPLIANCE_REFUSAL"),
    ErrorMapping(DomainError, grpc.StatusCode.FAILED_PRECONDITION, "DOMAIN_RULE"),
    ErrorMapping(ConcurrencyConflict, grpc.StatusCode.ABORTED, "CONCURRENCY_CONFLICT"),
    ErrorMapping(NotFound, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    ErrorMapping(AlreadyExists, grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    ErrorMapping(ReadModelBehind, grpc.StatusCode.DEADLINE_EXCEEDED, "READ_MODEL_BEHIND"),
    ErrorMapping(ReadModelRebuilding, grpc.StatusCode.UNAVAILABLE, "READ_MODEL_REBUILDING"),
    ErrorMapping(JournalBroken, grpc.StatusCode.FAILED_PRECONDITION, "JOURNAL_BROKEN"),
)
_FALLBACK = ErrorMapping(RegistryError, grpc.StatusCode.FAILED_PRECONDITION, "REGISTRY_ERROR")


def mapping_for(error: RegistryError) -> ErrorMapping:
    for mapping in ERROR_TABLE:
        if isinstance(error, mapping.error):
            return mapping
    return _FALLBACK


def field_path(path: str) -> str:
    """``units.0.serial`` (pydantic's location) as a BadRequest field path, ``units[0].serial``."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path)


def _details(error: RegistryError, reason: str) -> list[Message]:
    metadata: dict[str, str] = {}
    details: list[Message] = []
    if isinstance(error, InvalidField):
        details.append(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field_path(f), description=rule)
            for f, rule in error.violations
        ]))
        metadata["fields"] = ",".join(field_path(f) for f, _ in error.violations)
    elif isinstance(error, IdempotencyKeyReused):
        details.append(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="request_id", description=str(error))
        ]))
        metadata.update(requestId=error.request_id, originalCommand=error.original_command)
    elif isinstance(error, IllegalTransition):
        details.append(error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type="STATE", subject=error.action,
                description=f"current state {error.state}; allowed: {', '.join(error.allowed) or 'none'}",
            )
        ]))
        metadata.update(action=error.action, state=error.state, allowed=",".join(error.allowed))
        if error.reason:
            metadata["why"] = error.reason
    elif isinstance(error, InvariantViolation | ComplianceRefusal):
        kind = "COMPLIANCE" if isinstance(error, ComplianceRefusal) else "INVARIANT"
        details.append(error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type=kind, subject=error.rule, description=error.detail)
        ]))
        metadata["rule"] = error.rule
        if isinstance(error, ComplianceRefusal) and error.citation:
            metadata["citation"] = error.citation
        if isinstance(error, ComplianceRefusal):  # the facts that decided it, one entry each
            metadata.update({f"fact.{k}": v for k, v in sorted(error.facts.items())})
    elif isinstance(error, ConcurrencyConflict):
        metadata.update(
            aggregateId=str(error.ident),
            expectedVersion="" if error.expected is None else str(error.expected),
            currentVersion="" if error.actual is None else str(error.actual),
        )
    elif isinstance(error, NotFound | AlreadyExists):
        details.append(error_details_pb2.ResourceInfo(
            resource_type=error.kind, resource_name=str(error.ident), description=str(error)))
        metadata.update(kind=error.kind, id=str(error.ident))
    elif isinstance(error, ReadModelBehind):
        metadata["position"] = str(error.position)
        metadata.update({f"reached.{name}": str(at) for name, at in sorted(error.reached.items())})
    elif isinstance(error, ReadModelRebuilding):
        metadata.update(projection=error.projection, activeVersion=str(error.active_version),
                        codeVersion=str(error.code_version))
    details.insert(0, error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    return details


def rich_status(code: grpc.StatusCode, message: str, details: list[Message]) -> grpc.Status:
    """A grpc.Status carrying a google.rpc.Status with ``details`` in its trailer."""
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    status = status_pb2.Status(code=code.value[0], message=message, details=packed)
    return rpc_status.to_status(status)


def store_unavailable(error: BaseException) -> str | None:
    """Why the store could not be used, when ``error`` says the database is unreachable, down or
    out of space (not a bug in the registry): the call is then UNAVAILABLE, which a client retries
    with the same request_id (a command that did commit is answered from its request record)."""
    import sqlite3

    import psycopg
    from eventsourcing.persistence import ConnectionPoolClosedError, InterfaceError, OperationalError
    from sqlalchemy import exc

    from registry.infrastructure.breaker import StoreDown

    UNAVAILABLE_ERRORS = (  # noqa: N806 - a local tuple of types, imported lazily
        StoreDown, OperationalError, InterfaceError, ConnectionPoolClosedError, psycopg.OperationalError,
        psycopg.InterfaceError, exc.OperationalError, exc.InterfaceError, sqlite3.OperationalError, ConnectionError,
    )
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause).lower()
        if "disk is full" in text or "no space left" in text or "disk full" in text:
            return ("the event store's disk is full; nothing was written; retry with the same request_id "
                    "once space is freed")
        if isinstance(cause, UNAVAILABLE_ERRORS):
            return "the event store is unavailable (the database cannot be reached); retry with the same request_id"
        cause = cause.__cause__ or cause.__context__
    return None


def status_for(error: BaseException) -> grpc.Status:
    """The status an RPC ends with when ``error`` escaped the use case."""
    if isinstance(error, RegistryError):
        mapping = mapping_for(error)
        return rich_status(mapping.code, str(error), _details(error, mapping.reason))
    unavailable = store_unavailable(error)
    if unavailable is not None:
        log.warning("store unavailable: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
        return rich_status(grpc.StatusCode.UNAVAILABLE, unavailable,
                           [error_details_pb2.ErrorInfo(reason="STORE_UNAVAILABLE", domain=ERROR_DOMAIN)])
    ref = uuid.uuid4().hex[:12]
    log.error("internal error (ref %s)", ref, exc_info=error)
    return rich_status(
        grpc.StatusCode.INTERNAL,
        f"internal error (ref {ref}); the server log has the details",
        [error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"ref": ref})],
    )

