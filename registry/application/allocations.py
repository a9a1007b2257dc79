"""Allocation use cases: set or remove a partner's allocation, as events (who, when, why, from when).

A mixin of :class:`registry.application.service.Registry`, like the compliance use cases: each
command is load -> decide -> one atomic save through the registry's executor (idempotency by
``request_id``, optimistic concurrency by ``expected_version``, retry on a lost race).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.application import allocation_commands as ac
from registry.application.results import CommandResult
from registry.domain.allocations import PartnerAllocation
from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import AlreadyExists, ConcurrencyConflict, IllegalTransition

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from registry.application import commands as c

    _Base = Application[UUID]
else:
    _Base = object


class AllocationsMixin(_Base):
    """Partners' allocations; mixed into :class:`registry.application.service.Registry`."""

    if TYPE_CHECKING:
        def _exists(self, ident: UUID) -> bool: ...
        def _require(self, kind: str, ident: UUID | None, field: str) -> Any: ...
        def _try(self, ident: UUID, cls: type[RegistryAggregate]) -> Any: ...
        def _run(self, command: str, actor: str, cmd: c.Command, target: UUID | None,
                 decide: Callable[[Any], Sequence[RegistryAggregate]],
                 references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...
        def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                    decide: Callable[[Any], Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = (),
                    shared: Sequence[UUID] = ()) -> CommandResult: ...

    def set_allocation(self, actor: str, cmd: ac.SetAllocation) -> CommandResult:
        """Set a partner's allocation; the result names its ``PartnerAllocation`` aggregate."""
        return self._allocation_command(
            "SetAllocation", actor, cmd, cmd.partner_id,
            lambda a, ctx: a.set(ctx, cmd.gpus, cmd.reason, cmd.effective_from),
        )

    def remove_allocation(self, actor: str, cmd: ac.RemoveAllocation) -> CommandResult:
        """Withdraw a partner's allocation (IllegalTransition when it has none)."""
        if not self._exists(PartnerAllocation.id_for(cmd.partner_id)):
            self._require("party", cmd.partner_id, "partner_id")
            raise IllegalTransition("remove_allocation", "no allocation", ["set_allocation"],
                                    "the partner has no allocation to remove")
        return self._allocation_command(
            "RemoveAllocation", actor, cmd, cmd.partner_id,
            lambda a, ctx: a.remove(ctx, cmd.reason, cmd.effective_from),
        )

    def partner_allocation(self, partner_id: UUID) -> PartnerAllocation | None:
        found: PartnerAllocation | None = self._try(PartnerAllocation.id_for(partner_id), PartnerAllocation)
        return found

    def _allocation_command(
        self, command: str, actor: str, cmd: ac.SetAllocation | ac.RemoveAllocation, partner_id: UUID,
        act: Callable[[PartnerAllocation, Context], None],
    ) -> CommandResult:
        ident = PartnerAllocation.id_for(partner_id)
        partner = [("party", partner_id, "partner_id")]  # checked inside the command

        def create(w: Any) -> list[RegistryAggregate]:
            if cmd.expected_version:
                raise ConcurrencyConflict(ident, cmd.expected_version, 0)
            if self._exists(ident):
                raise AlreadyExists("allocation", ident)
            allocation = PartnerAllocation.open(w.ctx, partner_id)
            act(allocation, w.ctx)
            return [allocation]

        def change(w: Any) -> list[RegistryAggregate]:
            act(w.current, w.ctx)
            return [w.current]

        if not self._exists(ident):
            try:
                return self._run(command, actor, cmd, None, create, partner)
            except AlreadyExists:
                pass  # a concurrent first allocation created it: decide on it
        return self._change(command, actor, cmd, "allocation", ident, change, partner)
