"""Legal holds on a batch's export records (15 CFR 762.6) as ``LegalHold`` aggregates. A mixin of
the ``Registry`` (through ``ComplianceMixin``), on the command executor."""

from __future__ import annotations

from typing import Any

from registry.application import compliance_commands as cc
from registry.application.results import CommandResult
from registry.application.use_case_host import ComplianceUseCaseHost
from registry.domain.base import Context, RegistryAggregate
from registry.domain.legal_hold import LegalHold


class LegalHoldsMixin(ComplianceUseCaseHost):
    """Place and release legal holds; mixed into the ``Registry`` through ``ComplianceMixin``."""

    def place_legal_hold(self, actor: str, cmd: cc.PlaceLegalHold) -> CommandResult:
        """A compliance officer places an agency's hold on a batch's export records. The result
        names the hold (``hold_id``, or a new id). NotFound (field batch_id) for an unknown batch."""

        def make(ctx: Context, hold_id: Any) -> RegistryAggregate:
            return LegalHold.place(ctx, hold_id, cmd.batch_id, cmd.agency, cmd.reference, cmd.reason)

        return self._create("PlaceLegalHold", actor, cmd, "legal_hold", cmd.hold_id, make,
                            [("batch", cmd.batch_id, "batch_id")])

    def release_legal_hold(self, actor: str, cmd: cc.ReleaseLegalHold) -> CommandResult:
        """Release a hold, saying why; IllegalTransition when it is already released."""

        def decide(w: Any) -> list[RegistryAggregate]:
            hold: LegalHold = w.current
            hold.release(w.ctx, cmd.reason)
            return [hold]

        return self._change("ReleaseLegalHold", actor, cmd, "legal_hold", cmd.hold_id, decide)

    def legal_hold(self, hold_id: Any) -> LegalHold:
        hold: LegalHold = self._load("legal_hold", hold_id)
        return hold
