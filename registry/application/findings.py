"""Compliance officers' decisions on findings (acknowledge, resolve) as ``FindingReview`` events.
A mixin of the ``Registry`` (through ``ComplianceMixin``), on the command executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.application import compliance_commands as cc
from registry.application.results import CommandResult
from registry.application.use_case_host import ComplianceUseCaseHost
from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    NotFound,
)
from registry.domain.findings import FindingReview

if TYPE_CHECKING:
    pass



class FindingsMixin(ComplianceUseCaseHost):
    """Finding reviews; mixed into the ``Registry`` through ``ComplianceMixin``."""

    # ------------------------------------------------------------------------ findings
    def acknowledge_finding(self, actor: str, cmd: cc.AcknowledgeFinding) -> CommandResult:
        """A compliance officer acknowledges a finding of the compliance projection, with a note.

        The result names the finding's review (``FindingReview.id_for(finding_id)``); the projection
        reads the event and marks the finding acknowledged. NotFound when the compliance read model
        (if configured) has no such finding; IllegalTransition unless the finding is open."""
        return self._review("AcknowledgeFinding", actor, cmd, lambda r, ctx: r.acknowledge(ctx, cmd.note))

    def resolve_finding(self, actor: str, cmd: cc.ResolveFinding) -> CommandResult:
        """A compliance officer resolves a finding, saying why. A finding disappears from the open
        ones only this way; new evidence about its subject afterwards raises a new finding."""
        return self._review("ResolveFinding", actor, cmd, lambda r, ctx: r.resolve(ctx, cmd.note))

    def finding_review(self, finding_id: UUID) -> FindingReview | None:
        review: FindingReview | None = self._try(FindingReview.id_for(finding_id), FindingReview)
        return review

    def _review(
        self,
        command: str,
        actor: str,
        cmd: cc.AcknowledgeFinding | cc.ResolveFinding,
        act: Callable[[FindingReview, Context], None],
    ) -> CommandResult:
        lookup = self._compliance.findings
        if lookup is not None and not lookup.finding_exists(cmd.finding_id):
            raise NotFound("finding", cmd.finding_id)
        review_id = FindingReview.id_for(cmd.finding_id)

        def change(w: Any) -> list[RegistryAggregate]:
            act(w.current, w.ctx)
            return [w.current]

        def create(w: Any) -> list[RegistryAggregate]:
            if cmd.expected_version:
                raise ConcurrencyConflict(review_id, cmd.expected_version, 0)
            if self._exists(review_id):
                raise AlreadyExists("finding_review", review_id)
            review = FindingReview.open(w.ctx, cmd.finding_id)
            act(review, w.ctx)
            return [review]

        if not self._exists(review_id):
            try:
                return self._run(command, actor, cmd, None, create)
            except AlreadyExists:
                pass  # a concurrent first decision created the review: decide on it
        return self._change(command, actor, cmd, "finding_review", review_id, change)

