"""Validated commands of the compliance use cases (screening). See ``commands.py`` for the base."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from registry.application.commands import Command, Name

MAX_LIST_BYTES = 256 * 1024 * 1024


class ImportScreeningList(Command):
    """A restricted-party list snapshot as received (CSV in the CSL layout)."""

    snapshot_id: UUID | None = None
    source: Name  # which list this is, e.g. "US CSL"; the latest snapshot per source is screened
    content: Annotated[bytes, Field(min_length=1, max_length=MAX_LIST_BYTES)]

    def fingerprint_payload(self) -> str:
        digest = hashlib.sha256(self.content).hexdigest()
        rest = self.model_dump_json(exclude={"request_id", "expected_version", "content"})
        return f"{rest}\nsha256={digest}"


class ScreenParty(Command):
    """Screen one party again against the latest snapshot of every list."""

    party_id: UUID


class ResolveScreeningHit(Command):
    """A compliance officer's decision on one hit; who decided is the command's actor."""

    party_id: UUID
    hit_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    resolution: Literal["false_positive", "confirmed"]
    note: Name


class AcknowledgeFinding(Command):
    """A compliance officer has seen a finding of the compliance projection (who: the actor)."""

    finding_id: UUID
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ResolveFinding(Command):
    """A compliance officer closes a finding, saying why (who: the actor)."""

    finding_id: UUID
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PlaceLegalHold(Command):
    """A compliance officer places an agency's legal hold on a batch's export records (15 CFR
    762.6: nothing is destroyed once an agency has asked for it). Who: the actor; when:
    ``occurred_at`` (the time of the agency's request), else the time it is recorded."""

    hold_id: UUID | None = None
    batch_id: UUID
    agency: Name
    reference: Name
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReleaseLegalHold(Command):
    """A compliance officer releases a legal hold, saying why."""

    hold_id: UUID
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
