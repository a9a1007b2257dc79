"""The one table from registry errors to gRPC status codes, with rich details."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidField,
    InvariantViolation,
    NotFound,
    ReadModelRebuilding,
    RegistryError,
    SerialAlreadyRegistered,
)
from registry.server.errors import ERROR_TABLE, field_path, status_for

CASES: list[tuple[RegistryError, grpc.StatusCode, str]] = [
    (InvalidField([("quantity", "must be > 0")]), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
    (IdempotencyKeyReused("r-1", "PlaceOrder"), grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED"),
    (
        IllegalTransition("ship", "ordered", ["request_clearance"]),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ILLEGAL_TRANSITION",
    ),
    (
        InvariantViolation("ship-within-clearance", "too many"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVARIANT_VIOLATION",
    ),
    (SerialAlreadyRegistered(["SN1"]), grpc.StatusCode.FAILED_PRECONDITION, "SERIAL_ALREADY_REGISTERED"),
    (
        ComplianceRefusal("authorization-destination", "AE"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "COMPLIANCE_REFUSAL",
    ),
    (ConcurrencyConflict(uuid.uuid4(), 1, 2), grpc.StatusCode.ABORTED, "CONCURRENCY_CONFLICT"),
    (NotFound("batch", uuid.uuid4()), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (AlreadyExists("batch", uuid.uuid4()), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    (ReadModelRebuilding("batch_inventory", 1, 2), grpc.StatusCode.UNAVAILABLE, "READ_MODEL_REBUILDING"),
]


def decoded(status: grpc.Status) -> tuple[status_pb2.Status, dict[str, object]]:
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    rich = status_pb2.Status.FromString(value)
    found: dict[str, object] = {}
    for detail in rich.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.ResourceInfo,
        ):
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                found[cls.DESCRIPTOR.name] = message
    return rich, found


@pytest.mark.parametrize(("error", "code", "reason"), CASES, ids=[type(e).__name__ for e, _, _ in CASES])
def test_each_registry_error_maps_to_one_status_code_and_reason(
    error: RegistryError, code: grpc.StatusCode, reason: str
) -> None:
    status = status_for(error)

    rich, found = decoded(status)
    assert status.code == code and rich.code == code.value[0]
    assert status.details == rich.message == str(error)
    info = found["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == (reason, "gpureg")


def test_every_registry_error_type_has_a_row_in_the_table() -> None:
    covered = {m.error for m in ERROR_TABLE}
    assert {type(e) for e, _, _ in CASES} <= covered


def test_an_illegal_transition_carries_the_current_state_and_allowed_steps() -> None:
    _, found = decoded(
        status_for(IllegalTransition("ship", "ordered (clearance none)", ["request_clearance"]))
    )

    failure = found["PreconditionFailure"]
    assert isinstance(failure, error_details_pb2.PreconditionFailure)
    (violation,) = failure.violations
    assert violation.type == "STATE" and violation.subject == "ship"
    assert (
        "ordered (clearance none)" in violation.description and "request_clearance" in violation.description
    )


def test_a_compliance_refusal_names_its_rule_and_citation() -> None:
    _, found = decoded(
        status_for(ComplianceRefusal("headquarters-rule", "parent in CN", citation="15 CFR 742.6(a)(6)(iii)(A)"))
    )

    info = found["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert dict(info.metadata) == {"rule": "headquarters-rule", "citation": "15 CFR 742.6(a)(6)(iii)(A)"}
    failure = found["PreconditionFailure"]
    assert isinstance(failure, error_details_pb2.PreconditionFailure)
    (violation,) = failure.violations
    assert (violation.type, violation.subject, violation.description) == (
        "COMPLIANCE", "headquarters-rule", "parent in CN"
    )


def test_field_violations_use_bad_request_field_paths() -> None:
    _, found = decoded(
        status_for(InvalidField([("units.3.serial", "must not be empty"), ("dense_tops.fp8", "x")]))
    )

    bad = found["BadRequest"]
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("units[3].serial", "must not be empty"),
        ("dense_tops.fp8", "x"),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("quantity", "quantity"),
        ("units.0.serial", "units[0].serial"),
        ("serials.12", "serials[12]"),
        ("fields.fp8", "fields.fp8"),
        ("serials[0]", "serials[0]"),
    ],
)
def test_pydantic_locations_become_bad_request_field_paths(path: str, expected: str) -> None:
    assert field_path(path) == expected


def test_an_unexpected_exception_is_internal_and_does_not_leak_its_text() -> None:
    status = status_for(KeyError("secret table name"))

    assert status.code == grpc.StatusCode.INTERNAL
    assert "secret" not in status.details and "ref" in status.details
