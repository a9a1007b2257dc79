"""What every registry event and aggregate shares.

Every event records who did it (``actor``), the request that caused it (``request_id``) and the
business time at which the fact happened (``occurred_at``, supplied by the client, possibly in the
past). The library's own ``timestamp`` is the time the registry recorded it. Both are on the event,
so replay never reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from registry.domain.errors import InvalidField


@dataclass(frozen=True)
class Context:
    """Who asks, in answer to which request, about a fact that happened when."""

    actor: str
    request_id: str
    occurred_at: datetime

    def __post_init__(self) -> None:
        if not self.actor:
            raise InvalidField.one("actor", "must not be empty")
        if self.occurred_at.tzinfo is None:
            raise InvalidField.one("occurred_at", "must be timezone-aware")

    def event_kwargs(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "request_id": self.request_id,
            "occurred_at": self.occurred_at,
        }


class RegistryAggregate(Aggregate):
    """Base aggregate whose events all carry actor, request id and business time.

    Rule for ``apply`` methods: change an attribute, or one item of a dict/list attribute, by
    putting a new value there; never mutate a value nested deeper. That keeps the copy below
    (one level of containers) as safe as a deep copy and much cheaper: the repository copies
    every cached aggregate a command loads.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> RegistryAggregate:
        copy = object.__new__(type(self))
        state = dict(self.__dict__)
        for name, value in state.items():
            if isinstance(value, dict | list | set):
                state[name] = type(value)(value)
        copy.__dict__.update(state)
        return copy

    class Event(Aggregate.Event):
        actor: str
        request_id: str
        occurred_at: datetime

    class Created(Event, Aggregate.Created):
        pass


class Amendable(RegistryAggregate):
    """A reference aggregate whose data is corrected by new events, never edited.

    ``fields`` maps attribute names to new values; only names in ``AMENDABLE`` may appear.
    """

    AMENDABLE = frozenset[str]()

    class Amended(RegistryAggregate.Event):
        fields: dict[str, Any]
        reason: str

        def apply(self, aggregate: Any) -> None:
            for name, value in self.fields.items():
                setattr(aggregate, name, value)

    def amend(self, ctx: Context, fields: dict[str, Any], reason: str) -> None:
        unknown = sorted(set(fields) - self.AMENDABLE)
        if unknown:
            raise InvalidField(
                [(name, f"cannot be amended; amendable: {sorted(self.AMENDABLE)}") for name in unknown]
            )
        if not fields:
            raise InvalidField.one("fields", "at least one field must change")
        if not reason.strip():
            raise InvalidField.one("reason", "a correction needs a reason")
        self.trigger_event(self.Amended, fields=dict(fields), reason=reason, **ctx.event_kwargs())
