"""The rule text's boundaries and license exceptions over the wire (ComplianceService.ClassifyModel,
CommandService.RegisterAuthorization) on a real gRPC server: what the application-level scenario
tests (tests/integration/test_rule_text_*.py) pin also holds for a client in another language."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as pb
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.test_grpc_compliance import register_model
from tests.e2e.test_grpc_errors import field_violations, refused
from tests.e2e.world import as_actor, new_request_id, ts


def register_exception(api: Stubs, code: str, number: str = "") -> str:
    return api.commands.RegisterAuthorization(c.RegisterAuthorizationRequest(
        request_id=new_request_id(), auth_type=c.AUTHORIZATION_TYPE_LICENSE_EXCEPTION, number=number,
        exception_code=code, eccns=["3A090"], destination_countries=["AE"],
        valid_from=ts(datetime(2025, 1, 1, tzinfo=UTC)),
    ), metadata=as_actor()).aggregate_id


@pytest.mark.parametrize(
    ("fp8", "die_area", "eccn", "status"),
    [
        ("600", "10000", "3A090.a", pb.CONTROL_STATUS_CONTROLLED),  # TPP 4800: 3A090.a
        ("599.99", "10000", "", pb.CONTROL_STATUS_NOT_CONTROLLED),  # TPP 4799.92, PD 0.48
        ("222", "300", "3A090.a", pb.CONTROL_STATUS_CONTROLLED),  # TPP 1776, PD 5.92: 3A090.a
        ("300", "1500", "3A090.b", pb.CONTROL_STATUS_CONTROLLED),  # TPP 2400, PD 1.6: 3A090.b
        ("200", "500", "3A090.b", pb.CONTROL_STATUS_CONTROLLED),  # TPP 1600, PD 3.2: 3A090.b
        ("200", "500.01", "", pb.CONTROL_STATUS_NOT_CONTROLLED),  # PD just below 3.2
    ],
)
def test_classify_model_gives_each_3a090_boundary_as_the_rule_text_says(
    api: Stubs, fp8: str, die_area: str, eccn: str, status: int
) -> None:
    fp16 = str(float(fp8) / 2)  # the same TPP at FP16: the highest is the one that counts either way
    model = register_model(api, f"m-{fp8}-{die_area}", fp8=fp8, fp16=fp16, die_area=die_area)
    got = api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=model)).classification
    assert (got.eccn, got.status) == (eccn, status)


def test_an_aca_exception_registers_without_a_number_and_a_nac_without_one_is_refused_by_740_8(
    server: RunningServer, api: Stubs
) -> None:
    assert register_exception(api, "ACA")
    head = server.head()
    error = refused(lambda: register_exception(api, "NAC"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "number" in field_violations(error)
    assert server.head() == head
