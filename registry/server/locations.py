"""LocationService: host agents and their signed location attestations (docs/locations.md).

The commands run like CommandService's (validated request, the caller as actor, the command lane,
id/version/position in the answer); GetSerialLocation reads the compliance read model's
per-serial last-seen row. Who may call what, and a partner's confinement to its own sites, agents
and serials, is the auth interceptor's (registry/security/policy.py), never this servicer's.
"""

from __future__ import annotations

from typing import Any

import grpc

from projections.location_queries import SerialLocation
from projections.queries import ReadModels
from registry.api.v1 import locations_pb2 as pb
from registry.api.v1 import locations_pb2_grpc
from registry.application import location_commands as lc
from registry.application.results import CommandResult
from registry.application.service import Registry
from registry.domain.errors import InvalidField, NotFound
from registry.security.grants import current_grants
from registry.server.calls import answer, run_command
from registry.server.concurrency import Blocking, LogNotifier
from registry.server.convert import timestamp
from registry.server.readmodels import await_position

READ_MODEL = "compliance"


class LocationServicer(locations_pb2_grpc.LocationServiceServicer):
    """Serves registry.api.v1.LocationService."""

    def __init__(self, registry: Registry, blocking: Blocking, commands: Blocking, notifier: LogNotifier,
                 read_models: ReadModels | None) -> None:
        self._registry = registry
        self._blocking = blocking
        self._commands = commands
        self._notifier = notifier
        self._read = read_models

    async def RegisterHostAgent(
        self, request: pb.RegisterHostAgentRequest, context: Any
    ) -> pb.RegisterHostAgentResponse:
        return await run_command(request, context, lc.RegisterHostAgent, self._registry.register_host_agent,
                                 pb.RegisterHostAgentResponse, self._commands, self._notifier)

    async def RevokeHostAgent(self, request: pb.RevokeHostAgentRequest, context: Any) -> pb.RevokeHostAgentResponse:
        return await run_command(request, context, lc.RevokeHostAgent, self._registry.revoke_host_agent,
                                 pb.RevokeHostAgentResponse, self._commands, self._notifier)

    async def SubmitLocationAttestation(
        self, request: pb.SubmitLocationAttestationRequest, context: Any
    ) -> pb.SubmitLocationAttestationResponse:
        if request.observed_at.nanos % 1000:
            # the signed text has microseconds: a finer time would be recorded as one not sent
            async def refuse() -> pb.SubmitLocationAttestationResponse:
                raise InvalidField.one("observed_at", "whole microseconds (the signed text has no finer digits)")

            result: pb.SubmitLocationAttestationResponse = await answer(context, refuse)
            return result
        attests = current_grants().attests  # a partner's agents attest only its own units

        def submit(actor: str, command: lc.SubmitLocationAttestation) -> CommandResult:
            return self._registry.submit_location_attestation(actor, command, attests)

        return await run_command(request, context, lc.SubmitLocationAttestation, submit,
                                 pb.SubmitLocationAttestationResponse, self._commands, self._notifier)

    async def GetSerialLocation(
        self, request: pb.GetSerialLocationRequest, context: Any
    ) -> pb.GetSerialLocationResponse:
        async def work() -> pb.GetSerialLocationResponse:
            serial = request.serial.strip()
            if not serial:
                raise InvalidField.one("serial", "must not be empty")
            if self._read is None:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server has no read models configured")
            assert self._read is not None
            position = request.min_position if request.HasField("min_position") else None
            await await_position(self._read, self._blocking, context, position, [READ_MODEL])
            found = await self._blocking(self._read.serial_location, serial)
            if found is None:
                raise NotFound("serial location", serial.upper())
            return pb.GetSerialLocationResponse(location=location_message(found))

        result: pb.GetSerialLocationResponse = await answer(context, work)
        return result


def location_message(found: SerialLocation) -> pb.SerialLocation:
    return pb.SerialLocation(
        serial=found.serial, batch_id=str(found.batch_id), agent_id=str(found.agent_id), sequence=found.sequence,
        observed_at=timestamp(found.observed_at), country=found.country, site_id=str(found.site_id),
        latitude=found.latitude, longitude=found.longitude, method=found.method, position=found.position)
