"""Validated commands of the allocation use cases. See ``commands.py`` for the base."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from registry.application.commands import Command

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


class SetAllocation(Command):
    """Set (or replace) a partner's allocation in the deal, in GPUs, from ``effective_from``
    (default: ``occurred_at``); ``reason`` says why (the source of the figure)."""

    partner_id: UUID
    gpus: Annotated[int, Field(ge=0)]
    reason: Reason
    effective_from: AwareDatetime | None = None


class RemoveAllocation(Command):
    """Withdraw a partner's allocation from ``effective_from`` (default: ``occurred_at``)."""

    partner_id: UUID
    reason: Reason
    effective_from: AwareDatetime | None = None
