"""CommandService: one RPC per use case of the registry.

Each RPC turns its request into a validated command (:func:`registry.application.commands.parse`;
a bad field is INVALID_ARGUMENT naming it, before anything is read or written), records the
caller from :func:`registry.server.actor.current_actor` as the actor, runs the use case on the
thread pool, and answers with the aggregate id, new version and log position. A write wakes the
live subscriptions of this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from registry.api.v1 import commands_pb2 as pb
from registry.api.v1 import commands_pb2_grpc
from registry.application import allocation_commands as ac
from registry.application import commands as c
from registry.application.results import CommandResult
from registry.application.service import Registry
from registry.server.calls import run_command
from registry.server.concurrency import Blocking, LogNotifier

C = TypeVar("C", bound=c.Command)
R = TypeVar("R")


class CommandServicer(commands_pb2_grpc.CommandServiceServicer):
    """Serves registry.api.v1.CommandService."""

    def __init__(self, registry: Registry, blocking: Blocking, notifier: LogNotifier) -> None:
        self._registry = registry
        self._blocking = blocking
        self._notifier = notifier

    async def _run(
        self,
        request: Any,
        context: Any,
        model: type[C],
        use_case: Callable[[str, C], CommandResult],
        response: Callable[..., R],
    ) -> R:
        return await run_command(request, context, model, use_case, response, self._blocking, self._notifier)

    async def RegisterParty(self, request: pb.RegisterPartyRequest, context: Any) -> pb.RegisterPartyResponse:
        return await self._run(
            request, context, c.RegisterParty, self._registry.register_party, pb.RegisterPartyResponse
        )

    async def RegisterSite(self, request: pb.RegisterSiteRequest, context: Any) -> pb.RegisterSiteResponse:
        return await self._run(
            request, context, c.RegisterSite, self._registry.register_site, pb.RegisterSiteResponse
        )

    async def RegisterGpuModel(
        self, request: pb.RegisterGpuModelRequest, context: Any
    ) -> pb.RegisterGpuModelResponse:
        return await self._run(
            request,
            context,
            c.RegisterGpuModel,
            self._registry.register_gpu_model,
            pb.RegisterGpuModelResponse,
        )

    async def RegisterAuthorization(
        self, request: pb.RegisterAuthorizationRequest, context: Any
    ) -> pb.RegisterAuthorizationResponse:
        return await self._run(
            request,
            context,
            c.RegisterAuthorization,
            self._registry.register_authorization,
            pb.RegisterAuthorizationResponse,
        )

    async def AmendReference(
        self, request: pb.AmendReferenceRequest, context: Any
    ) -> pb.AmendReferenceResponse:
        return await self._run(
            request, context, c.AmendReference, self._registry.amend_reference, pb.AmendReferenceResponse
        )

    async def PlaceOrder(self, request: pb.PlaceOrderRequest, context: Any) -> pb.PlaceOrderResponse:
        return await self._run(
            request, context, c.PlaceOrder, self._registry.place_order, pb.PlaceOrderResponse
        )

    async def CorrectOrder(self, request: pb.CorrectOrderRequest, context: Any) -> pb.CorrectOrderResponse:
        return await self._run(
            request, context, c.CorrectOrder, self._registry.correct_order, pb.CorrectOrderResponse
        )

    async def RequestClearance(
        self, request: pb.RequestClearanceRequest, context: Any
    ) -> pb.RequestClearanceResponse:
        return await self._run(
            request,
            context,
            c.RequestClearance,
            self._registry.request_clearance,
            pb.RequestClearanceResponse,
        )

    async def GrantClearance(
        self, request: pb.GrantClearanceRequest, context: Any
    ) -> pb.GrantClearanceResponse:
        return await self._run(
            request, context, c.GrantClearance, self._registry.grant_clearance, pb.GrantClearanceResponse
        )

    async def DenyClearance(self, request: pb.DenyClearanceRequest, context: Any) -> pb.DenyClearanceResponse:
        return await self._run(
            request, context, c.DenyClearance, self._registry.deny_clearance, pb.DenyClearanceResponse
        )

    async def RevokeClearance(
        self, request: pb.RevokeClearanceRequest, context: Any
    ) -> pb.RevokeClearanceResponse:
        return await self._run(
            request, context, c.RevokeClearance, self._registry.revoke_clearance, pb.RevokeClearanceResponse
        )

    async def RegisterSerials(
        self, request: pb.RegisterSerialsRequest, context: Any
    ) -> pb.RegisterSerialsResponse:
        return await self._run(
            request, context, c.RegisterSerials, self._registry.register_serials, pb.RegisterSerialsResponse
        )

    async def Ship(self, request: pb.ShipRequest, context: Any) -> pb.ShipResponse:
        return await self._run(request, context, c.Ship, self._registry.ship, pb.ShipResponse)

    async def Receive(self, request: pb.ReceiveRequest, context: Any) -> pb.ReceiveResponse:
        return await self._run(request, context, c.Receive, self._registry.receive, pb.ReceiveResponse)

    async def Install(self, request: pb.InstallRequest, context: Any) -> pb.InstallResponse:
        return await self._run(request, context, c.Install, self._registry.install, pb.InstallResponse)

    async def Assign(self, request: pb.AssignRequest, context: Any) -> pb.AssignResponse:
        return await self._run(request, context, c.Assign, self._registry.assign, pb.AssignResponse)

    async def Transfer(self, request: pb.TransferRequest, context: Any) -> pb.TransferResponse:
        return await self._run(request, context, c.Transfer, self._registry.transfer, pb.TransferResponse)

    async def ReturnForRma(self, request: pb.ReturnForRmaRequest, context: Any) -> pb.ReturnForRmaResponse:
        return await self._run(
            request, context, c.ReturnForRma, self._registry.return_for_rma, pb.ReturnForRmaResponse
        )

    async def Repair(self, request: pb.RepairRequest, context: Any) -> pb.RepairResponse:
        return await self._run(request, context, c.Repair, self._registry.repair, pb.RepairResponse)

    async def ReportLost(self, request: pb.ReportLostRequest, context: Any) -> pb.ReportLostResponse:
        return await self._run(
            request, context, c.ReportLost, self._registry.report_lost, pb.ReportLostResponse
        )

    async def Decommission(self, request: pb.DecommissionRequest, context: Any) -> pb.DecommissionResponse:
        return await self._run(
            request, context, c.Decommission, self._registry.decommission, pb.DecommissionResponse
        )

    async def RecordOnwardMovement(
        self, request: pb.RecordOnwardMovementRequest, context: Any
    ) -> pb.RecordOnwardMovementResponse:
        return await self._run(
            request, context, c.RecordOnwardMovement, self._registry.record_onward_movement,
            pb.RecordOnwardMovementResponse,
        )

    async def SplitBatch(self, request: pb.SplitBatchRequest, context: Any) -> pb.SplitBatchResponse:
        return await self._run(
            request, context, c.SplitBatch, self._registry.split_batch, pb.SplitBatchResponse
        )

    async def SetAllocation(self, request: pb.SetAllocationRequest, context: Any) -> pb.SetAllocationResponse:
        return await self._run(
            request, context, ac.SetAllocation, self._registry.set_allocation, pb.SetAllocationResponse
        )
