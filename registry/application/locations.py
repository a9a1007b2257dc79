"""GPU location attestation use cases (docs/locations.md): register and revoke a host agent, and
accept one signed check-in.

A mixin of :class:`registry.application.service.Registry`: each command is load -> decide -> one
atomic save through the registry's executor. A check-in writes one event on its host agent's own
aggregate, never on the batches its serials belong to; the serials' batches are read from the
registry-wide serial index before the decision and recorded on the event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.application import location_commands as lc
from registry.application.results import CommandResult
from registry.domain.attestation import Attestation, ObservedLocation, serials_of
from registry.domain.base import RegistryAggregate
from registry.domain.errors import InvalidField
from registry.domain.host_agent import HostAgent

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from registry.application import commands as c

    _Base = Application[UUID]
else:
    _Base = object


class LocationsMixin(_Base):
    """Host agents and their attestations; mixed into :class:`registry.application.service.Registry`."""

    if TYPE_CHECKING:
        def claimed(self, serials: Sequence[str]) -> dict[str, UUID]: ...
        def _create(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID | None,
                    make: Callable[[Any, UUID], RegistryAggregate | Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...
        def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                    decide: Callable[[Any], Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = (),
                    shared: Sequence[UUID] = ()) -> CommandResult: ...

    def register_host_agent(self, actor: str, cmd: lc.RegisterHostAgent) -> CommandResult:
        """Register an agent's Ed25519 public key for a site, on behalf of a partner."""
        return self._create(
            "RegisterHostAgent", actor, cmd, "host_agent", cmd.agent_id,
            lambda ctx, i: HostAgent.register(ctx, i, cmd.public_key, cmd.site_id, cmd.partner_id, cmd.name),
            [("site", cmd.site_id, "site_id"), ("party", cmd.partner_id, "partner_id")])

    def revoke_host_agent(self, actor: str, cmd: lc.RevokeHostAgent) -> CommandResult:
        return self._change("RevokeHostAgent", actor, cmd, "host_agent", cmd.agent_id,
                            lambda w: w.then(lambda a: a.revoke(w.ctx, cmd.reason)))

    def submit_location_attestation(self, actor: str, cmd: lc.SubmitLocationAttestation,
                                    attests: Callable[[UUID, str], bool] | None = None) -> CommandResult:
        """Verify and record one check-in: the agent is registered and not revoked, the signature
        verifies over the canonical encoding, the sequence exceeds the last one, every serial is
        registered (the observed site may be one the registry does not know: a unit found
        elsewhere is evidence, not bad input). Its business time is ``observed_at`` (not ahead of
        the registry's clock). ``attests(batch_id, serial)``: the units the caller's agents may
        attest (a partner's: its own); any other serial is refused exactly as an unknown one, so a
        check-in tells no one of another party's units."""
        attestation = Attestation(
            agent_id=cmd.agent_id, sequence=cmd.sequence, observed_at=cmd.observed_at,
            serials=serials_of(cmd.serials),
            location=ObservedLocation(cmd.country, cmd.site_id, cmd.latitude, cmd.longitude, cmd.method))
        owners = self.claimed(list(attestation.serials))
        if attests is not None:
            owners = {serial: batch for serial, batch in owners.items() if attests(batch, serial)}
        timed = cmd.model_copy(update={"occurred_at": cmd.observed_at})
        try:
            return self._change("SubmitLocationAttestation", actor, timed, "host_agent", cmd.agent_id,
                                lambda w: w.then(lambda a: a.attest(w.ctx, attestation, cmd.signature, owners)))
        except InvalidField as e:  # the business time is the request's observed_at
            raise InvalidField([("observed_at" if f == "occurred_at" else f, d) for f, d in e.violations]) from None
